"""Expected chat-template renderings, computed with jinja2 the way transformers renders them.

Usage: python chat_template.py TEMPLATE.jinja > crates/engine/tests/fixtures/qwen2.5-rendered.json
"""
import json
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
template = env.from_string(open(sys.argv[1]).read())

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CASES = {
    "plain": {"messages": [{"role": "user", "content": "Hello, wörld!"}], "tools": None},
    "system": {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Bye"},
        ],
        "tools": None,
    },
    "tools": {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
                ],
            },
            {"role": "tool", "content": "18C", "tool_call_id": "c1"},
            {"role": "tool", "content": "24C", "tool_call_id": "c2"},
        ],
        "tools": [WEATHER],
    },
}
out = {}
for name, case in CASES.items():
    out[name] = template.render(messages=case["messages"], tools=case["tools"], add_generation_prompt=True)
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
