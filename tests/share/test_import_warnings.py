"""Real-world files from each tool's documentation: valid files of the current and the previous
format import, and everything a prompt document cannot hold is named in a warning."""

import json

from workbench.share.importers import read_import

OPENAI = {  # the shapes of platform.openai.com's Chat Completions reference
    "model": "gpt-4.1", "max_completion_tokens": 300, "frequency_penalty": 0.5,
    "response_format": {"type": "json_object"}, "stream": False,
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    "messages": [
        {"role": "developer", "content": [{"type": "text", "text": "You are a weather bot."}]},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "assistant", "content": "It is 18C in Paris."},
        {"role": "user", "content": "And in Rome?"}]}


def test_an_openai_request_with_parts_tools_and_a_last_question():
    r = read_import(json.dumps(OPENAI))
    assert r.format == "openai"
    doc, notes = r.document, " ".join(r.warnings)
    assert doc.sections[0].text == "You are a weather bot."
    assert [(e.user, e.assistant) for e in doc.examples] == [("Weather in Paris?", "It is 18C in Paris.")]
    assert doc.params == {"max_tokens": 300}
    for word in ("image_url", "tool call", "And in Rome?", "frequency_penalty", "response_format",
                 "tools"):
        assert word in notes, word
    assert "stream" not in notes  # how to send it, not what is sent


ANTHROPIC = {  # docs.anthropic.com's Messages examples, and an older request with sampling
    "model": "claude-sonnet-4-5", "max_tokens": 1024, "temperature": 0.2, "top_k": 5,
    "metadata": {"user_id": "u1"}, "tools": [{"name": "get_weather", "input_schema": {}}],
    "system": [{"type": "text", "text": "You are a tour guide.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "What should I see in Rome?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "The Colosseum."},
            {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}]}


def test_an_anthropic_request_with_blocks_cache_control_and_old_sampling():
    r = read_import(json.dumps(ANTHROPIC))
    doc, notes = r.document, " ".join(r.warnings)
    assert doc.sections[0].text == "You are a tour guide."
    assert [(e.user, e.assistant) for e in doc.examples] == [("What should I see in Rome?", "The Colosseum.")]
    assert doc.params == {"max_tokens": 1024, "temperature": 0.2, "top_k": 5}
    for word in ("cache_control", "metadata", "tools", "tool_use", "tool_result"):
        assert word in notes, word


LMSTUDIO = {  # an LM Studio 0.3 preset, as lms-kv-config's schema has it
    "identifier": "@local:coder", "name": "Coder",
    "operation": {"fields": [
        {"key": "llm.prediction.systemPrompt", "value": "You write Python."},
        {"key": "llm.prediction.temperature", "value": 0.2},
        {"key": "llm.prediction.topKSampling", "value": 30},
        {"key": "llm.prediction.minPSampling", "value": {"checked": False, "value": 0.3}},
        {"key": "llm.prediction.repeatPenalty", "value": {"checked": True, "value": 1.2}},
        {"key": "llm.prediction.seed", "value": {"checked": True, "value": 42}},
        {"key": "llm.prediction.structured", "value": {"type": "none"}}]},
    "load": {"fields": [{"key": "llm.load.contextLength", "value": 8192},
                        {"key": "llm.load.llama.flashAttention", "value": True}]}}

LMSTUDIO_02 = {  # an LM Studio 0.2 preset (lmstudio-ai/configs)
    "name": "ChatML", "load_params": {"n_ctx": 4096, "seed": -1, "use_mlock": True},
    "inference_params": {
        "input_prefix": "<|im_end|>\n<|im_start|>user\n",
        "input_suffix": "<|im_end|>\n<|im_start|>assistant\n",
        "antiprompt": ["<|im_start|>", "<|im_end|>"],
        "pre_prompt": "Perform the task to the best of your ability.",
        "pre_prompt_prefix": "<|im_start|>system\n", "pre_prompt_suffix": "", "temp": 0.8,
        "top_k": 40, "top_p": 0.95, "repeat_penalty": 1.1, "n_predict": -1, "n_threads": 4}}


def test_an_lm_studio_preset_says_what_is_switched_off_and_what_is_loading():
    r = read_import(json.dumps(LMSTUDIO))
    doc, notes = r.document, " ".join(r.warnings)
    assert doc.name == "Coder" and doc.sections[0].text == "You write Python."
    assert doc.params == {"temperature": 0.2, "top_k": 30, "repeat_penalty": 1.2, "seed": 42}
    assert "minPSampling" in notes and "Switched off" in notes  # not imported as active
    for word in ("structured", "contextLength", "flashAttention"):
        assert word in notes, word


def test_an_lm_studio_0_2_preset_imports():
    r = read_import(json.dumps(LMSTUDIO_02))
    doc, notes = r.document, " ".join(r.warnings)
    assert r.format == "lmstudio" and doc.name == "ChatML"
    assert doc.sections[0].text == "Perform the task to the best of your ability."
    assert doc.params == {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "repeat_penalty": 1.1,
                          "stop": ["<|im_start|>", "<|im_end|>"]}
    for word in ("0.2", "input_prefix", "input_suffix", "pre_prompt_prefix", "n_threads", "n_ctx",
                 "use_mlock", "no limit"):
        assert word in notes, word


def test_a_question_carrying_the_notebooks_notes_comes_back_without_them():
    text = json.dumps({"messages": [
        {"role": "user", "content": "How far is Rome?\n\nNotes from your notebook that may apply "
                                    "here:\n- Give distances in km."},
        {"role": "assistant", "content": "About 1,400 km."}]})
    r = read_import(text, "openai")
    assert r.document.examples[0].user == "How far is Rome?"
    assert "notebook notes" in " ".join(r.warnings)
