"""The official `openai` Python SDK against a real Switchyard process, unchanged.

Started by scripts/test with SWITCHYARD_BIN and SWITCHYARD_MOCK_BIN pointing at the built
binaries. Starts the mock upstream and the gateway on free loopback ports, then uses the SDK
as an application would: plain and streamed chat, tool calls, embeddings (the SDK asks for
base64 by default), model listing, and the SDK's typed errors.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import openai

KEY = "sk-switchyard-sdk-test"

# Everything here is on loopback: never route it through a proxy from the environment.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class SdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mock_port, gw_port = free_port(), free_port()
        cls.tmp = tempfile.TemporaryDirectory()
        config = os.path.join(cls.tmp.name, "switchyard.toml")
        with open(config, "w") as f:
            f.write(f"""
listen = "127.0.0.1:{gw_port}"
api_keys = ["${{SDK_TEST_CLIENT_KEY}}"]

[[providers]]
id = "mock"
type = "openai"
base_url = "http://127.0.0.1:{mock_port}/v1"
api_key = "${{MOCK_API_KEY}}"
jurisdiction = "EU"
hosting = "cloud"

[[models]]
name = "bench-model"
route = [{{ provider = "mock", model = "gpt-4o-mini" }}]

[[models]]
name = "embed-model"
route = [{{ provider = "mock", model = "text-embedding-3-small" }}]
""")
        env = dict(os.environ, MOCK_API_KEY="sk-mock-upstream", SDK_TEST_CLIENT_KEY=KEY)
        cls.procs = [
            subprocess.Popen([os.environ["SWITCHYARD_MOCK_BIN"], f"127.0.0.1:{mock_port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([os.environ["SWITCHYARD_BIN"], "serve", "--config", config],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        wait_http(f"http://127.0.0.1:{gw_port}/healthz")
        cls.base_url = f"http://127.0.0.1:{gw_port}/v1"
        cls.client = openai.OpenAI(base_url=cls.base_url, api_key=KEY, max_retries=0)

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.terminate()
            p.wait(timeout=10)
        cls.tmp.cleanup()

    def test_chat(self):
        raw = self.client.chat.completions.with_raw_response.create(
            model="bench-model",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            temperature=0.2, max_completion_tokens=50, seed=1, stop=["END"],
        )
        self.assertTrue(raw.headers["x-request-id"].startswith("req_"))
        completion = raw.parse()
        self.assertEqual(completion.choices[0].message.content, "Hello! This is the Switchyard mock upstream.")
        self.assertEqual(completion.choices[0].finish_reason, "stop")
        self.assertEqual(completion.usage.total_tokens, 21)

    def test_stream_with_usage(self):
        stream = self.client.chat.completions.create(
            model="bench-model", messages=[{"role": "user", "content": "Hi"}],
            stream=True, stream_options={"include_usage": True},
        )
        text, usage, finish = "", None, None
        for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        self.assertEqual(text, "Hello! This is the Switchyard mock upstream.")
        self.assertEqual(finish, "stop")
        self.assertEqual(usage.prompt_tokens, 12)

    def test_tool_calls_streamed_and_not(self):
        tools = [{"type": "function", "function": {
            "name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]
        messages = [{"role": "user", "content": "Weather in Paris?"}]
        completion = self.client.chat.completions.create(model="bench-model", messages=messages, tools=tools)
        call = completion.choices[0].message.tool_calls[0]
        self.assertEqual(call.function.name, "get_weather")
        self.assertEqual(call.function.arguments, '{"location":"Paris"}')
        self.assertEqual(completion.choices[0].finish_reason, "tool_calls")

        args, name = "", None
        for chunk in self.client.chat.completions.create(model="bench-model", messages=messages, tools=tools, stream=True):
            for choice in chunk.choices:
                for tc in choice.delta.tool_calls or []:
                    name = tc.function.name or name
                    args += tc.function.arguments or ""
        self.assertEqual((name, args), ("get_weather", '{"location":"Paris"}'))

        # The usual pattern: append the response message object itself, then the result.
        follow = self.client.chat.completions.create(model="bench-model", messages=messages + [
            completion.choices[0].message,
            {"role": "tool", "tool_call_id": call.id, "content": "21 C"},
        ])
        self.assertIsNotNone(follow.choices[0].message)

    def test_images_and_json_schema(self):
        completion = self.client.chat.completions.create(
            model="bench-model",
            messages=[{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            ]}],
            response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
        )
        self.assertEqual(completion.object, "chat.completion")

    def test_embeddings(self):
        result = self.client.embeddings.create(model="embed-model", input=["hello", "world"], dimensions=8)
        self.assertEqual(len(result.data), 2)
        self.assertEqual(len(result.data[0].embedding), 8)
        self.assertIsInstance(result.data[0].embedding[0], float)

    def test_models(self):
        ids = [m.id for m in self.client.models.list()]
        self.assertEqual(ids, ["bench-model", "embed-model"])

    def test_responses_api(self):
        response = self.client.responses.create(
            model="bench-model", input="Hi", instructions="Be brief.", max_output_tokens=50)
        self.assertEqual(response.output_text, "Hello! This is the Switchyard mock upstream.")
        self.assertEqual(response.status, "completed")
        self.assertEqual(response.usage.input_tokens, 12)
        text = ""
        with self.client.responses.stream(model="bench-model", input="Hi") as stream:
            for event in stream:
                if event.type == "response.output_text.delta":
                    text += event.delta
            final = stream.get_final_response()
        self.assertEqual(text, response.output_text)
        self.assertEqual(final.output_text, text)
        tools = [{"type": "function", "name": "get_weather", "description": "Weather",
                  "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
                  "strict": False}]
        response = self.client.responses.create(
            model="bench-model", input="Weather in Paris?", tools=tools)
        call = [o for o in response.output if o.type == "function_call"][0]
        self.assertEqual(call.name, "get_weather")
        self.assertEqual(json.loads(call.arguments), {"location": "Paris"})
        follow_up = self.client.responses.create(
            model="bench-model", tools=tools, tool_choice="none",
            input=[{"role": "user", "content": "Weather in Paris?"}, call,
                   {"type": "function_call_output", "call_id": call.call_id, "output": "18C"}])
        self.assertEqual(follow_up.output_text, "Tool results: 18C", "the result reached the upstream")
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.responses.create(model="bench-model", input="x", previous_response_id="resp_1")
        self.assertIn("stateless", e.exception.message)

    def test_typed_errors(self):
        with self.assertRaises(openai.NotFoundError) as e:
            self.client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(e.exception.code, "model_not_found")
        with self.assertRaises(openai.BadRequestError):
            self.client.chat.completions.create(model="bench-model", messages=[], temperature=5)
        bad = openai.OpenAI(base_url=self.base_url, api_key="sk-wrong", max_retries=0)
        with self.assertRaises(openai.AuthenticationError):
            bad.models.list()


class LocalSdkTest(unittest.TestCase):
    """`switchyard serve` with no config: the embedded default models, offline."""

    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.proc = subprocess.Popen(
            [os.environ["SWITCHYARD_BIN"], "serve", "--offline", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        cls.client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=30)

    def test_chat_plain_and_streamed(self):
        messages = [{"role": "user", "content": "What is 2 + 2? Answer with the number only."}]
        completion = self.client.chat.completions.create(
            model="default", messages=messages, temperature=0, max_tokens=16)
        self.assertIn("4", completion.choices[0].message.content)
        self.assertEqual(completion.choices[0].finish_reason, "stop")
        self.assertEqual(completion.model, "qwen2.5-coder-0.5b-instruct")
        self.assertGreater(completion.usage.prompt_tokens, 10)
        text, usage = "", None
        for chunk in self.client.chat.completions.create(
                model="default", messages=messages, temperature=0, max_tokens=16,
                stream=True, stream_options={"include_usage": True}):
            usage = chunk.usage or usage
            for choice in chunk.choices:
                text += choice.delta.content or ""
        self.assertEqual(text, completion.choices[0].message.content)
        self.assertEqual(usage.completion_tokens, completion.usage.completion_tokens)

    def test_responses_api(self):
        response = self.client.responses.create(
            model="default", input="What is 2 + 2? Answer with the number only.",
            temperature=0, max_output_tokens=16)
        self.assertIn("4", response.output_text)
        self.assertEqual(response.status, "completed")

    def test_seeded_sampling_repeats(self):
        kwargs = dict(model="default", messages=[{"role": "user", "content": "Name a colour."}],
                      temperature=1.0, top_p=0.9, seed=1234, max_tokens=12)
        a = self.client.chat.completions.create(**kwargs).choices[0].message.content
        b = self.client.chat.completions.create(**kwargs).choices[0].message.content
        self.assertEqual(a, b)

    def test_tool_call(self):
        tools = [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
        completion = self.client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "Weather in Rome?"}],
            tools=tools, tool_choice="required", temperature=0)
        call = completion.choices[0].message.tool_calls[0]
        self.assertEqual(call.function.name, "get_weather")
        self.assertIn("city", json.loads(call.function.arguments))
        self.assertEqual(completion.choices[0].finish_reason, "tool_calls")

    def test_embeddings(self):
        result = self.client.embeddings.create(model="default-embedding", input=["hello", "world"])
        self.assertEqual(len(result.data), 2)
        self.assertEqual(len(result.data[0].embedding), 384)
        norm = sum(x * x for x in result.data[0].embedding) ** 0.5
        self.assertAlmostEqual(norm, 1.0, places=4)

    def test_models_and_errors(self):
        ids = [m.id for m in self.client.models.list()]
        self.assertEqual(ids, ["qwen2.5-coder-0.5b-instruct", "default",
                               "all-minilm-l6-v2", "default-embedding"])
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(
                model="default", messages=[{"role": "user", "content": "word " * 5000}])
        self.assertEqual(e.exception.code, "context_length_exceeded")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    passed = result.testsRun - len(result.failures) - len(result.errors)
    print(f"sdk: {passed} passed, {len(result.failures) + len(result.errors)} failed")
    sys.exit(0 if result.wasSuccessful() else 1)
