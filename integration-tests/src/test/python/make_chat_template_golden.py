"""Golden renderings of chat templates, made by transformers' own apply_chat_template.

    python make_chat_template_golden.py OUT_FILE

Writes OUT_FILE (JSON): each template in TEMPLATES (written for this test in the styles of common
model families: ChatML with a default system prompt, LLaMA-3 headers with trim, LLaMA-2 [INST]
blocks with a system message and slicing, Mistral's alternation check with raise_exception, block
tags in mid-line and indented at a line's start (lstrip_blocks), and one printing a message with
tojson), rendered by transformers for each conversation in
CONVERSATIONS with add_generation_prompt false and true; or the error transformers raised.
peft4j's ChatTemplateTest renders the same with jinjava and must print the same text.
"""
import json
import sys

import transformers
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

TEMPLATES = {
    "chatml": (
        "{%- if messages[0]['role'] == 'system' %}\n"
        "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
        "{%- else %}\n"
        "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}\n"
        "{%- endif %}\n"
        "{%- for message in messages %}\n"
        "{%- if not (message['role'] == 'system' and loop.first) %}\n"
        "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}\n"
        "{%- endif %}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "{{- '<|im_start|>assistant\\n' }}\n"
        "{%- endif %}\n"),
    "llama3": (
        "{{- bos_token }}\n"
        "{%- for message in messages %}\n"
        "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
        "{%- endif %}\n"),
    "llama2": (
        "{% if messages[0]['role'] == 'system' %}"
        "{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
        "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
        "{% for message in loop_messages %}"
        "{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        "{% else %}{% set content = message['content'] %}{% endif %}"
        "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}"
        "{% endfor %}"),
    "mistral": (
        "{{ bos_token }}{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
        "{% endfor %}\n"),
    "inline-blocks": (
        "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} <end> {% endfor %}"
        "{% if add_generation_prompt %}<assistant> {% endif %}\n"
        "  {% if false %}x{% endif %}\t{# an indented comment #}\n"),
    "tojson": (
        "{% for message in messages %}{{ message | tojson }}\n{% endfor %}"
        "{% if add_generation_prompt %}{{ 'next: ' }}{% endif %}"),
}
CONVERSATIONS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}],
    [{"role": "system", "content": "You answer in French."}, {"role": "user", "content": "  Thanks \"a lot\"  "},
     {"role": "assistant", "content": "De rien, à bientôt.\n"}, {"role": "user", "content": "Bye\tnow"}],
]


def main(out_file):
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
                                        bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    cases = []
    for name, template in TEMPLATES.items():
        for conversation in CONVERSATIONS:
            for add in (False, True):
                case = {"template": name, "messages": conversation, "add_generation_prompt": add}
                try:
                    case["rendered"] = tokenizer.apply_chat_template(conversation, chat_template=template,
                                                                     tokenize=False, add_generation_prompt=add)
                except Exception as e:  # the template's own error, such as raise_exception's
                    case["error"] = str(e)
                cases.append(case)
    with open(out_file, "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "special_tokens": {"bos_token": "<s>", "eos_token": "</s>"},
                   "templates": TEMPLATES, "cases": cases}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
