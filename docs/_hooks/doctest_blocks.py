"""mkdocs hook: render the library's ``>>>`` examples as code.

ember's docstrings show examples as bare doctest lines (``>>> x[0]``) inside the text. Markdown
would read them as a block quote and ``x[0]`` as a reference link; this preprocessor wraps each
run of doctest lines (the ``>>>``/``...`` prompts and the output lines after them, up to a blank
line) in a ```` ```pycon ```` fence, in the pages and in the docstrings mkdocstrings renders.
"""
from __future__ import annotations

import re

from markdown import Extension
from markdown.preprocessors import Preprocessor
from mkdocs.plugins import event_priority

FENCE = re.compile(r"^\s*(```|~~~)")
PROMPT = re.compile(r"^(\s*)>>>( |$)")


class DoctestFence(Preprocessor):
    """Wrap doctest runs that are not already inside a fenced block in a pycon fence."""

    def run(self, lines):
        out, in_fence, in_example, indent = [], False, False, ""
        for line in lines:
            if in_example and not line.strip():
                out.append(indent + "```")
                in_example = False
            if not in_example and FENCE.match(line):
                in_fence = not in_fence
            elif not in_fence and not in_example and PROMPT.match(line):
                indent = PROMPT.match(line).group(1)
                if out and out[-1].strip():
                    out.append("")  # a fence must start its own block
                out.append(indent + "```pycon")
                in_example = True
            out.append(line)
        if in_example:
            out.append(indent + "```")
        return out


class DoctestExtension(Extension):
    def extendMarkdown(self, md):  # noqa: N802 - Markdown's API name
        # After whitespace normalisation (30), before the fenced-code preprocessor (25) reads the fences.
        md.preprocessors.register(DoctestFence(md), "doctest_fence", 29)


@event_priority(100)  # before mkdocstrings copies the Markdown extensions for the docstrings
def on_config(config):
    config.markdown_extensions.append(DoctestExtension())
    return config
