"""boto3's `bedrock-runtime` client against a real Switchyard process, unchanged apart from
`endpoint_url`: converse and converse_stream (the binary event stream), tool use round trips,
invoke with an Anthropic-format body, and the AWS-style errors boto3 raises.

The access key id is the Switchyard key; boto3 signs with SigV4 as it would for AWS.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import boto3
import botocore.config
import botocore.exceptions

from test_openai_sdk import free_port, wait_http

KEY = "sk-switchyard-bedrock-sdk"
TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather for a city",
                                 "inputSchema": {"json": {"type": "object",
                                                          "properties": {"location": {"type": "string"}}}}}}]}


def client_for(port, key):
    return boto3.client(
        "bedrock-runtime", endpoint_url=f"http://127.0.0.1:{port}", region_name="eu-central-1",
        aws_access_key_id=key, aws_secret_access_key="not-checked",
        config=botocore.config.Config(retries={"max_attempts": 1}))


class BedrockTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mock_port, gw_port = free_port(), free_port()
        cls.tmp = tempfile.TemporaryDirectory()
        config = os.path.join(cls.tmp.name, "switchyard.toml")
        with open(config, "w") as f:
            f.write(f"""
listen = "127.0.0.1:{gw_port}"
api_keys = ["{KEY}"]

[[providers]]
id = "mock"
type = "openai"
base_url = "http://127.0.0.1:{mock_port}/v1"

[[providers]]
id = "bedrock"
type = "bedrock"
base_url = "http://127.0.0.1:{mock_port}"
region = "eu-central-1"
aws_access_key_id = "AKIDEXAMPLE"
aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

[[models]]
name = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
route = [{{ provider = "mock", model = "gpt-4o-mini" }}]

[[models]]
name = "via-bedrock"
route = [{{ provider = "bedrock", model = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" }}]
""")
        cls.procs = [
            subprocess.Popen([os.environ["SWITCHYARD_MOCK_BIN"], f"127.0.0.1:{mock_port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([os.environ["SWITCHYARD_BIN"], "serve", "--config", config],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        wait_http(f"http://127.0.0.1:{gw_port}/healthz")
        cls.port = gw_port
        cls.client = client_for(gw_port, KEY)
        cls.model = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.terminate()
            p.wait(timeout=10)
        cls.tmp.cleanup()

    def test_converse(self):
        response = self.client.converse(
            modelId=self.model, system=[{"text": "Be brief."}],
            messages=[{"role": "user", "content": [{"text": "Hi"}]}],
            inferenceConfig={"maxTokens": 50, "temperature": 0.2})
        self.assertEqual(response["output"]["message"]["content"][0]["text"],
                         "Hello! This is the Switchyard mock upstream.")
        self.assertEqual(response["stopReason"], "end_turn")
        self.assertEqual(response["usage"]["inputTokens"], 12)
        self.assertEqual(response["usage"]["outputTokens"], 9)

    def test_converse_stream(self):
        response = self.client.converse_stream(
            modelId=self.model, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
        text, stop, usage = "", None, None
        for event in response["stream"]:
            if "contentBlockDelta" in event:
                text += event["contentBlockDelta"]["delta"].get("text", "")
            if "messageStop" in event:
                stop = event["messageStop"]["stopReason"]
            if "metadata" in event:
                usage = event["metadata"]["usage"]
        self.assertEqual(text, "Hello! This is the Switchyard mock upstream.")
        self.assertEqual(stop, "end_turn")
        self.assertGreater(usage["outputTokens"], 0)

    def test_tool_use_round_trip_streamed_and_not(self):
        messages = [{"role": "user", "content": [{"text": "Weather in Paris?"}]}]
        response = self.client.converse(modelId=self.model, messages=messages, toolConfig=TOOLS)
        self.assertEqual(response["stopReason"], "tool_use")
        call = response["output"]["message"]["content"][0]["toolUse"]
        self.assertEqual(call["name"], "get_weather")
        self.assertEqual(call["input"], {"location": "Paris"})

        streamed = self.client.converse_stream(modelId=self.model, messages=messages, toolConfig=TOOLS)
        start, args = None, ""
        for event in streamed["stream"]:
            if "contentBlockStart" in event:
                start = event["contentBlockStart"]["start"]["toolUse"]
            if "contentBlockDelta" in event and "toolUse" in event["contentBlockDelta"]["delta"]:
                args += event["contentBlockDelta"]["delta"]["toolUse"]["input"]
        self.assertEqual(start["name"], "get_weather")
        self.assertEqual(json.loads(args), {"location": "Paris"})

        follow_up = messages + [
            response["output"]["message"],
            {"role": "user", "content": [{"toolResult": {"toolUseId": call["toolUseId"],
                                                          "content": [{"json": {"temp_c": 18}}]}}]},
        ]
        answer = self.client.converse(modelId=self.model, messages=follow_up,
                                      toolConfig={**TOOLS, "toolChoice": {"auto": {}}})
        self.assertIn("stopReason", answer)

    def test_a_bedrock_upstream_all_the_way(self):
        # boto3 -> Switchyard's Bedrock door -> Switchyard's SigV4-signed Bedrock provider ->
        # the mock, which speaks Bedrock and refuses unsigned requests.
        messages = [{"role": "user", "content": [{"text": "Hi"}]}]
        response = self.client.converse(modelId="via-bedrock", messages=messages)
        self.assertEqual(response["output"]["message"]["content"][0]["text"],
                         "Hello! This is the Switchyard mock Bedrock upstream.")
        self.assertEqual(response["usage"]["outputTokens"], 11)
        streamed = self.client.converse_stream(modelId="via-bedrock", messages=messages, toolConfig=TOOLS)
        start, args, stop = None, "", None
        for event in streamed["stream"]:
            if "contentBlockStart" in event:
                start = event["contentBlockStart"]["start"]["toolUse"]
            if "contentBlockDelta" in event and "toolUse" in event["contentBlockDelta"]["delta"]:
                args += event["contentBlockDelta"]["delta"]["toolUse"]["input"]
            if "messageStop" in event:
                stop = event["messageStop"]["stopReason"]
        self.assertEqual(start["name"], "get_weather")
        self.assertEqual(json.loads(args), {"location": "Paris"})
        self.assertEqual(stop, "tool_use")

    def test_count_tokens(self):
        # Counted by the deployment that would serve the request: here Switchyard's Bedrock
        # provider asks the (mock) Bedrock's own count-tokens.
        converse = {"messages": [{"role": "user", "content": [{"text": "How many tokens is this?"}]}]}
        counted = self.client.count_tokens(modelId="via-bedrock", input={"converse": converse})
        self.assertGreater(counted["inputTokens"], 10)
        body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
                           "messages": [{"role": "user", "content": "Hi"}]})
        again = self.client.count_tokens(modelId="via-bedrock", input={"invokeModel": {"body": body}})
        self.assertGreater(again["inputTokens"], 10)
        # An OpenAI-compatible deployment has no exact count: a clear validation error.
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.client.count_tokens(modelId=self.model, input={"converse": converse})
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn("counting tokens is not available", e.exception.response["Error"]["Message"])

    def test_invoke_with_an_anthropic_body(self):
        body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                "messages": [{"role": "user", "content": "Hi"}]}
        response = self.client.invoke_model(modelId=self.model, body=json.dumps(body))
        message = json.loads(response["body"].read())
        self.assertEqual(message["type"], "message")
        self.assertEqual(message["content"][0]["text"], "Hello! This is the Switchyard mock upstream.")
        streamed = self.client.invoke_model_with_response_stream(modelId=self.model, body=json.dumps(body))
        events = [json.loads(e["chunk"]["bytes"]) for e in streamed["body"] if "chunk" in e]
        self.assertEqual(events[0]["type"], "message_start")
        self.assertEqual(events[-1]["type"], "message_stop")
        text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
        self.assertEqual(text, "Hello! This is the Switchyard mock upstream.")

    def test_errors(self):
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.client.converse(modelId="nope", messages=[{"role": "user", "content": [{"text": "x"}]}])
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.client.converse(modelId=self.model, messages=[{"role": "user", "content": [{"text": "x"}]}],
                                 guardrailConfig={"guardrailIdentifier": "g", "guardrailVersion": "1"})
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn("guardrailConfig", e.exception.response["Error"]["Message"])
        bad = client_for(self.port, "AKIAWRONGKEY")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            bad.converse(modelId=self.model, messages=[{"role": "user", "content": [{"text": "x"}]}])
        self.assertEqual(e.exception.response["Error"]["Code"], "UnrecognizedClientException")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    result = unittest.main(exit=False, verbosity=2).result
    passed = result.testsRun - len(result.failures) - len(result.errors)
    print(f"bedrock sdk: {passed} passed, {len(result.failures) + len(result.errors)} failed")
    sys.exit(0 if result.wasSuccessful() else 1)
