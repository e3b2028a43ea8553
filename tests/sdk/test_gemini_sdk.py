"""The official `google-genai` Python SDK against a real Switchyard process, unchanged.

Started by scripts/test with SWITCHYARD_BIN and SWITCHYARD_MOCK_BIN pointing at the built
binaries. A gateway routing Gemini model names to the OpenAI-compatible mock upstream, and
`switchyard serve` with no config on the embedded defaults. The SDK is used as an
application would: generate_content plain and streamed, function calling, token counting,
embeddings, typed errors.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

from google import genai
from google.genai import errors, types

from test_openai_sdk import free_port, wait_http

KEY = "sk-switchyard-gemini-sdk"
WEATHER = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather", description="Current weather for a city",
    parameters=types.Schema(type="OBJECT", properties={"location": types.Schema(type="STRING")},
                            required=["location"]))])
NO_AUTO_CALLS = types.AutomaticFunctionCallingConfig(disable=True)


def client_for(port, key):
    return genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=f"http://127.0.0.1:{port}", retry_options=types.HttpRetryOptions(attempts=1)))


class MockUpstreamTest(unittest.TestCase):
    """Gemini SDK in front, OpenAI-compatible mock behind."""

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

[[models]]
name = "gemini-2.5-flash"
route = [{{ provider = "mock", model = "gpt-4o-mini" }}]

[[models]]
name = "text-embedding-004"
route = [{{ provider = "mock", model = "text-embedding-3-small" }}]
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

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.terminate()
            p.wait(timeout=10)
        cls.tmp.cleanup()

    def test_generate_plain_and_streamed(self):
        config = types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=50,
                                             temperature=0.2, stop_sequences=["END"])
        response = self.client.models.generate_content(
            model="gemini-2.5-flash", contents="Hi", config=config)
        self.assertEqual(response.text, "Hello! This is the Switchyard mock upstream.")
        self.assertEqual(response.candidates[0].finish_reason, types.FinishReason.STOP)
        self.assertEqual(response.usage_metadata.prompt_token_count, 12)
        self.assertEqual(response.usage_metadata.candidates_token_count, 9)
        text = "".join(chunk.text or "" for chunk in self.client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Hi", config=config))
        self.assertEqual(text, response.text)

    def test_images_and_response_schemas(self):
        # The SDK sends `inlineData.mime_type` in snake_case; the image must reach the
        # upstream (the mock reports the size it received).
        png = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 7, 7, 7])
        response = self.client.models.generate_content(
            model="gemini-2.5-flash",
            contents=[types.Part.from_bytes(data=png, mime_type="image/png"), "What is this?"])
        self.assertEqual(response.text, "I see 1 image(s) of 11 bytes.")
        schema = types.Schema(type="OBJECT", properties={"location": types.Schema(type="STRING")},
                              required=["location"])
        response = self.client.models.generate_content(
            model="gemini-2.5-flash", contents="Weather?",
            config=types.GenerateContentConfig(response_mime_type="application/json",
                                               response_schema=schema))
        self.assertEqual(json.loads(response.text), {"location": "Paris"})

    def test_function_calling_round_trip(self):
        config = types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AUTO_CALLS)
        response = self.client.models.generate_content(
            model="gemini-2.5-flash", contents="Weather in Paris?", config=config)
        call = response.function_calls[0]
        self.assertEqual(call.name, "get_weather")
        self.assertEqual(call.args, {"location": "Paris"})
        streamed = [c for chunk in self.client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Weather in Paris?", config=config)
            for c in (chunk.function_calls or [])]
        self.assertEqual(streamed[0].args, {"location": "Paris"})
        contents = [
            types.Content(role="user", parts=[types.Part.from_text(text="Weather in Paris?")]),
            response.candidates[0].content,
            types.Content(role="user", parts=[types.Part.from_function_response(
                name="get_weather", response={"output": "18C"})]),
        ]
        answer = self.client.models.generate_content(
            model="gemini-2.5-flash", contents=contents,
            config=types.GenerateContentConfig(
                tools=[WEATHER], automatic_function_calling=NO_AUTO_CALLS,
                tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="NONE"))))
        self.assertEqual(answer.text, "Tool results: 18C", "the result reached the upstream")

    def test_embeddings(self):
        result = self.client.models.embed_content(model="text-embedding-004", contents=["a", "b"])
        self.assertEqual(len(result.embeddings), 2)
        self.assertEqual(len(result.embeddings[0].values), 8)

    def test_typed_errors(self):
        with self.assertRaises(errors.ClientError) as e:
            self.client.models.generate_content(model="nope", contents="x")
        self.assertEqual(e.exception.code, 404)
        self.assertEqual(e.exception.status, "NOT_FOUND")
        bad = client_for(self.port, "sk-wrong")
        with self.assertRaises(errors.ClientError) as e:
            bad.models.generate_content(model="gemini-2.5-flash", contents="x")
        self.assertEqual(e.exception.code, 401)


class LocalTest(unittest.TestCase):
    """`switchyard serve` with no config: the embedded defaults behind the Gemini door."""

    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.proc = subprocess.Popen(
            [os.environ["SWITCHYARD_BIN"], "serve", "--offline", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        cls.client = client_for(port, "unused")

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=30)

    def test_generate_count_and_embed(self):
        config = types.GenerateContentConfig(temperature=0, max_output_tokens=16)
        contents = "What is 2 + 2? Answer with the number only."
        response = self.client.models.generate_content(model="default", contents=contents, config=config)
        self.assertIn("4", response.text)
        text = "".join(c.text or "" for c in self.client.models.generate_content_stream(
            model="default", contents=contents, config=config))
        self.assertEqual(text, response.text)
        count = self.client.models.count_tokens(model="default", contents=contents)
        self.assertEqual(count.total_tokens, response.usage_metadata.prompt_token_count)
        result = self.client.models.embed_content(model="default-embedding", contents=["hello", "world"])
        self.assertEqual(len(result.embeddings), 2)
        self.assertEqual(len(result.embeddings[0].values), 384)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    result = unittest.main(exit=False, verbosity=2).result
    passed = result.testsRun - len(result.failures) - len(result.errors)
    print(f"gemini sdk: {passed} passed, {len(result.failures) + len(result.errors)} failed")
    sys.exit(0 if result.wasSuccessful() else 1)
