"""The official `anthropic` Python SDK against a real Switchyard process, unchanged.

Started by scripts/test with SWITCHYARD_BIN and SWITCHYARD_MOCK_BIN pointing at the built
binaries. Two gateways: one routing an Anthropic-facing model name to the OpenAI-compatible
mock upstream (translation through the canonical types both ways), and `switchyard serve`
with no config on the embedded default model. The SDK is used as an application would:
plain and streamed messages, tool use round trips, token counting, typed errors.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import anthropic

from test_openai_sdk import free_port, wait_http

KEY = "sk-switchyard-anthropic-sdk"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                     "required": ["location"]},
}


class MockUpstreamTest(unittest.TestCase):
    """Anthropic SDK in front, OpenAI-compatible mock behind."""

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
api_key = "sk-mock-upstream"

[[models]]
name = "claude-sonnet-4-5"
route = [{{ provider = "mock", model = "gpt-4o-mini" }}]
""")
        env = dict(os.environ, SDK_TEST_CLIENT_KEY=KEY)
        cls.procs = [
            subprocess.Popen([os.environ["SWITCHYARD_MOCK_BIN"], f"127.0.0.1:{mock_port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([os.environ["SWITCHYARD_BIN"], "serve", "--config", config],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        wait_http(f"http://127.0.0.1:{gw_port}/healthz")
        cls.base_url = f"http://127.0.0.1:{gw_port}"
        cls.client = anthropic.Anthropic(base_url=cls.base_url, api_key=KEY, max_retries=0)

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.terminate()
            p.wait(timeout=10)
        cls.tmp.cleanup()

    def test_message(self):
        raw = self.client.messages.with_raw_response.create(
            model="claude-sonnet-4-5", max_tokens=64, system="Be brief.",
            messages=[{"role": "user", "content": "Hi"}], stop_sequences=["END"],
            extra_body={"temperature": 0.2})
        self.assertEqual(raw.headers["x-switchyard-provider"], "mock")
        message = raw.parse()
        self.assertEqual(message.type, "message")
        self.assertEqual(message.content[0].type, "text")
        self.assertEqual(message.content[0].text, "Hello! This is the Switchyard mock upstream.")
        self.assertEqual(message.stop_reason, "end_turn")
        self.assertEqual(message.usage.input_tokens, 12)
        self.assertEqual(message.usage.output_tokens, 9)

    def test_stream_helper(self):
        with self.client.messages.stream(
                model="claude-sonnet-4-5", max_tokens=64,
                messages=[{"role": "user", "content": "Hi"}]) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        self.assertEqual(text, "Hello! This is the Switchyard mock upstream.")
        self.assertEqual(final.content[0].text, text)
        self.assertEqual(final.stop_reason, "end_turn")
        self.assertGreater(final.usage.output_tokens, 0)
        self.assertGreater(final.usage.input_tokens, 0)

    def test_tool_use_round_trip_streamed_and_not(self):
        messages = [{"role": "user", "content": "Weather in Paris?"}]
        message = self.client.messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=messages, tools=[WEATHER],
            tool_choice={"type": "any"})
        self.assertEqual(message.stop_reason, "tool_use")
        call = message.content[0]
        self.assertEqual(call.type, "tool_use")
        self.assertEqual(call.name, "get_weather")
        self.assertEqual(call.input, {"location": "Paris"})

        with self.client.messages.stream(
                model="claude-sonnet-4-5", max_tokens=64, messages=messages,
                tools=[WEATHER]) as stream:
            streamed = stream.get_final_message()
        self.assertEqual(streamed.stop_reason, "tool_use")
        self.assertEqual(streamed.content[0].input, {"location": "Paris"})

        # The call and its result go back; the SDK's own types serialize unchanged.
        follow_up = messages + [
            {"role": "assistant", "content": message.content},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "18C and sunny"}]},
        ]
        answer = self.client.messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=follow_up, tools=[WEATHER],
            tool_choice={"type": "none"})
        self.assertEqual(answer.stop_reason, "end_turn")

    def test_typed_errors(self):
        with self.assertRaises(anthropic.NotFoundError) as e:
            self.client.messages.create(model="nope", max_tokens=5,
                                        messages=[{"role": "user", "content": "x"}])
        self.assertEqual(e.exception.body["error"]["type"], "not_found_error")
        with self.assertRaises(anthropic.BadRequestError) as e:
            self.client.messages.create(model="claude-sonnet-4-5", max_tokens=0,
                                        messages=[{"role": "user", "content": "x"}])
        self.assertIn("max_tokens", e.exception.message)
        bad = anthropic.Anthropic(base_url=self.base_url, api_key="sk-wrong", max_retries=0)
        with self.assertRaises(anthropic.AuthenticationError):
            bad.messages.create(model="claude-sonnet-4-5", max_tokens=5,
                                messages=[{"role": "user", "content": "x"}])

    def test_models(self):
        ids = [m.id for m in self.client.models.list()]
        self.assertEqual(ids, ["claude-sonnet-4-5"])


class LocalTest(unittest.TestCase):
    """`switchyard serve` with no config: the embedded default model behind the Anthropic door."""

    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.proc = subprocess.Popen(
            [os.environ["SWITCHYARD_BIN"], "serve", "--offline", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        cls.client = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key="unused",
                                         max_retries=0)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=30)

    def test_message_stream_and_exact_token_count(self):
        # Sampling controls are no longer in the newest SDK's signature; older clients send
        # them, and the gateway still takes them.
        kwargs = dict(model="default", max_tokens=16, system="Answer tersely.",
                      extra_body={"temperature": 0},
                      messages=[{"role": "user", "content": "What is 2 + 2? Answer with the number only."}])
        message = self.client.messages.create(**kwargs)
        self.assertIn("4", message.content[0].text)
        self.assertEqual(message.stop_reason, "end_turn")
        with self.client.messages.stream(**kwargs) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        self.assertEqual(text, message.content[0].text)
        self.assertEqual(final.usage.output_tokens, message.usage.output_tokens)
        count = self.client.messages.count_tokens(
            model="default", system=kwargs["system"], messages=kwargs["messages"])
        self.assertEqual(count.input_tokens,
                         message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0))

    def test_max_tokens_and_tool_use(self):
        message = self.client.messages.create(
            model="default", max_tokens=3, extra_body={"temperature": 0},
            messages=[{"role": "user", "content": "Write a long poem about the sea."}])
        self.assertEqual(message.stop_reason, "max_tokens")
        self.assertEqual(message.usage.output_tokens, 3)
        tool = dict(WEATHER, input_schema={"type": "object", "properties": {"city": {"type": "string"}},
                                           "required": ["city"]})
        message = self.client.messages.create(
            model="default", max_tokens=64, extra_body={"temperature": 0}, tools=[tool],
            tool_choice={"type": "tool", "name": "get_weather"},
            messages=[{"role": "user", "content": "Weather in Rome?"}])
        self.assertEqual(message.stop_reason, "tool_use")
        call = [b for b in message.content if b.type == "tool_use"][0]
        self.assertEqual(call.name, "get_weather")
        self.assertIn("city", call.input)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    result = unittest.main(exit=False, verbosity=2).result
    passed = result.testsRun - len(result.failures) - len(result.errors)
    print(f"anthropic sdk: {passed} passed, {len(result.failures) + len(result.errors)} failed")
    sys.exit(0 if result.wasSuccessful() else 1)
