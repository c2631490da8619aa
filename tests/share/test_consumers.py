"""Exports handed to their consumers' own code: the official openai SDK against llama-cpp-python's
server, the official anthropic SDK against a recording server, and llm's own Template class."""

import json

import anthropic
import openai
import pytest
import yaml
from llm.templates import Template

from tests.share.conftest import Recorder
from tests.share.test_exporters import make_input
from workbench.share.exporters import export
from workbench.share.importers import import_text


def test_the_openai_sdk_sends_the_export_as_it_is(openai_server):
    x = make_input()
    x.messages = x.messages + [{"role": "user", "content": "What is the capital of France?"}]
    x.params.temperature, x.params.max_tokens = 0, 24
    request = json.loads(export("openai", x).text)
    client = openai.OpenAI(base_url=f"{openai_server}/v1", api_key="no-key-needed", max_retries=0)
    reply = client.chat.completions.create(**request)
    assert reply.choices[0].message.content.strip()
    assert 0 < reply.usage.completion_tokens <= 24  # the exported max_tokens was obeyed
    assert {"seed", "stop", "top_p"} <= set(request)


def anthropic_reply(path, body):
    return {"id": "msg_01", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": "Paris."}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 2}}


def test_the_anthropic_sdk_sends_the_export_as_it_is():
    x = make_input()
    x.messages = x.messages + [{"role": "user", "content": "What is the capital of France?"}]
    request = json.loads(export("anthropic", x).text)
    with Recorder(anthropic_reply) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test-key", max_retries=0)
        message = client.messages.create(**request)
    assert message.content[0].text == "Paris."
    (sent,) = server.requests
    assert sent["path"] == "/v1/messages" and sent["body"] == request
    assert sent["body"]["system"] == x.system and sent["body"]["messages"][-1]["role"] == "user"


def test_the_old_anthropic_export_is_what_the_sdk_refuses():
    # The request this export used to write: the test above could fail, and did.
    request = json.loads(export("anthropic", make_input()).text) | {"temperature": 0.3}
    client = anthropic.Anthropic(base_url="http://127.0.0.1:9", api_key="k", max_retries=0)
    with pytest.raises(TypeError, match="temperature"):
        client.messages.create(**request)


def test_llms_own_template_evaluates_the_export_with_dollars_in_the_prompt():
    x = make_input()
    x.system = x.messages[0]["content"] = "Prices are in $USD; a call costs $2. Keep ${braces} and $$."
    out = export("llm", x)
    data = yaml.safe_load(out.text)
    template = Template(name="exported", **data)
    prompt, system = template.evaluate("How much is a call?")
    assert prompt == "How much is a call?"
    assert system.startswith("Prices are in $USD; a call costs $2. Keep ${braces} and $$.\n\n## Examples")
    assert "User: Where is my order?" in system
    assert "options" not in data  # llm-gguf models refuse every option
    assert all(k in " ".join(out.warnings) for k in ("temperature", "top_p", "max_tokens"))
    # What the old export wrote is what llm refuses:
    with pytest.raises((Template.MissingVariables, ValueError)):
        Template(name="old", system=x.system).evaluate("q")
    # And import reads llm's text back as llm does.
    assert import_text(out.text, "llm").sections[0].text == x.system


def test_an_llm_template_from_llms_documentation_imports_with_warnings():
    text = ("model: gpt-4o-mini\nsystem: 'You speak like $voice. Cost: $$5.'\n"
            "prompt: 'Summarize this: $input'\ndefaults:\n  voice: a pirate\n  unused: x\n"
            "extract: true\noptions:\n  temperature: 0.5\n  frequency_penalty: 0.2\n")
    doc = import_text(text, "llm")
    assert doc.sections[0].text == "You speak like {{voice}}. Cost: $5."
    assert doc.variables == {"voice": "a pirate"} and doc.params == {"temperature": 0.5}
    notes = " ".join(doc.notes)
    for word in ("Summarize this", "unused", "extract", "frequency_penalty", "gpt-4o-mini"):
        assert word in notes, word
    # llm itself, given this file, asks for the same text:
    llm_system = Template(name="doc", **yaml.safe_load(text)).evaluate("x")[1]
    assert llm_system == doc.sections[0].text.replace("{{voice}}", doc.variables["voice"])
