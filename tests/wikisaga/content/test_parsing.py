"""Each parser: title, outline, prose, code apart, and nothing executable kept."""

from __future__ import annotations

import pytest

from wikisaga.content.ingest import make_document
from wikisaga.content.parsing import Unparseable, decode, format_of, parse
from wikisaga.content.records import CodeBlock, Heading, ParsedDocument

ACTIVE = ("alert", "evil", "onclick", "onload", "onerror", "color:", "javascript:")


def parsed(text: str, kind: str) -> ParsedDocument:
    return parse(text, kind, fallback_title="from the file name")


def code_of(document: ParsedDocument) -> list[tuple[str, str]]:
    """Each code block's text, stripped, with its language."""
    return [(c.text.strip(), c.language) for c in document.code_blocks]


def assert_outline_points_at_headings(document: ParsedDocument) -> None:
    for heading in document.outline:
        assert document.text[heading.offset :].startswith(heading.text)


def assert_nothing_active(document: ParsedDocument) -> None:
    everything = document.title + document.text + "".join(c.text for c in document.code_blocks)
    for word in ACTIVE:
        assert word not in everything


# -- Markdown ------------------------------------------------------------------------------

MARKDOWN = """\
# Getting started

Install it with *pip* and read the [guide](guide.md).
A soft break joins lines.

```python
import wikisaga
```

## Configure

- one setting
- another <span onclick="evil()">setting</span>

<div onclick="evil()"><p>Raw HTML block.</p><script>alert(1)</script></div>

<style>p { color: red }</style>

    indented code

| key | value |
|-----|-------|
| a   | 1     |

Setext heading
--------------
"""


def test_markdown_keeps_title_outline_and_prose_and_sets_code_apart() -> None:
    document = parsed(MARKDOWN, "markdown")

    assert document.title == "Getting started"
    assert [(h.text, h.level) for h in document.outline] == [
        ("Getting started", 1),
        ("Configure", 2),
        ("Setext heading", 2),
    ]
    assert_outline_points_at_headings(document)
    assert "Install it with pip and read the guide. A soft break joins lines." in document.text
    assert "one setting\n\nanother setting" in document.text
    assert "Raw HTML block." in document.text
    assert "key | value\n\na | 1" in document.text
    assert document.code_blocks == (
        CodeBlock("import wikisaga", "python", document.text.index("Configure") - 2),
        CodeBlock("indented code", "", document.text.index("key | value") - 2),
    )
    assert "import wikisaga" not in document.text


def test_markdown_drops_scripts_styles_and_event_handlers() -> None:
    assert_nothing_active(parsed(MARKDOWN, "markdown"))
    inline = parsed("Text <script>alert(1)</script> <b onclick='evil()'>bold</b>.", "markdown")
    assert inline.text == "Text bold."


def test_markdown_front_matter_gives_the_title_and_is_not_prose() -> None:
    document = parsed('---\ntitle: "Declared"\ntags: [x]\n---\n# Heading\n\nBody.\n', "markdown")

    assert document.title == "Declared"
    assert document.text == "Heading\n\nBody."


def test_myst_roles_read_as_the_text_sphinx_shows() -> None:
    """MyST Markdown (Sphinx's) writes roles as ``{ref}`text <target>```: what a reader
    of the built docs sees is "text", not "{ref}text <target>"."""
    source = (
        "# Pins\n\nA requirements file can be generated using {ref}`pip freeze`. Install"
        " with {ref}`--no-deps <install_--no-deps>`, as {pep}`517` and {rfc}`7230` say;"
        " {pypi}`keyring` helps, {file}`/etc/pip.conf` holds it and {class}`~a.b.Cache`"
        " keeps it. Money is {literally} `cash`. See the {doc}`../cli/pip_config` command.\n"
    )
    document = parsed(source, "markdown")
    assert document.text == (
        "Pins\n\nA requirements file can be generated using pip freeze. Install with"
        " --no-deps, as PEP 517 and RFC 7230 say; keyring helps, /etc/pip.conf holds it and"
        " Cache keeps it. Money is {literally} cash. See the pip_config command."
    )


def test_myst_eval_rst_is_read_as_restructuredtext() -> None:
    """Sphinx sites written in MyST keep much of their prose in ``{eval-rst}`` blocks:
    their paragraphs, roles and code are the page's, in order; a table of contents, the
    current module and an included file show nothing."""
    source = "\n".join(
        (
            "# Quickstart",
            "",
            "```{currentmodule} click",
            "```",
            "",
            "```{toctree}",
            ":maxdepth: 2",
            "",
            "options",
            "```",
            "",
            "A function becomes a command line tool by decorating it.",
            "",
            "```{eval-rst}",
            "What happens is that the decorator converts the function into a",
            ":class:`~click.Command`, which then can be invoked::",
            "",
            "    hello()",
            "",
            "Nested section",
            "--------------",
            "",
            "Commands can be attached to groups.",
            "```",
            "",
            "```{literalinclude} ../examples/hello.py",
            "```",
            "",
            "That is all.",
        )
    )
    document = parse(source, "markdown", fallback_title="quickstart")
    assert document.text == (
        "Quickstart\n\nA function becomes a command line tool by decorating it.\n\n"
        "What happens is that the decorator converts the function into a Command, which"
        " then can be invoked:\n\nNested section\n\nCommands can be attached to groups."
        "\n\nThat is all."
    )
    assert [(h.text, h.level) for h in document.outline] == [
        ("Quickstart", 1),
        ("Nested section", 2),
    ]
    assert [(c.text, c.language) for c in document.code_blocks] == [("hello()", "")]


def test_a_page_of_headings_only_has_no_text() -> None:
    with pytest.raises(Unparseable, match="no text beyond its headings"):
        parse("# Changes\n\n```{include} ../CHANGES.md\n```\n", "markdown", fallback_title="c")
    with pytest.raises(Unparseable, match="no text beyond its headings"):
        parse("# API\n\n## Commands\n", "markdown", fallback_title="api")
    assert parse("# API\n\n## Commands\n\nSee below.\n", "markdown", fallback_title="a").text


def test_myst_directives_keep_their_prose_and_their_code() -> None:
    """A MyST directive is a fence named in braces. An admonition's or a tab's body is
    prose (with any code inside it apart), "versionchanged" reads as Sphinx shows it, a
    target line ("(caching)=") is no text,
    ``{code-block} python`` is Python code, and an unknown directive is code of no
    language: nothing is called a language of "{caution}"."""
    source = "\n".join(
        (
            "(caching)=",
            "",
            "# Caching",
            "",
            "(what-is-cached)=",
            "```{versionchanged} 20.0",
            "pip now caches wheels built from a Git commit.",
            "```",
            "",
            "```{caution}",
            "The cache's layout is an implementation detail.",
            "```",
            "",
            "````{tab} Linux",
            "```",
            "~/.cache/pip",
            "```",
            "",
            "pip also respects `XDG_CACHE_HOME`.",
            "````",
            "",
            "```{code-block} python",
            "import pip",
            "```",
            "",
            "```{pip-cli}",
            "$ pip download sampleproject",
            "```",
            "",
        )
    )
    document = parsed(source, "markdown")
    assert document.text == (
        "Caching\n\nChanged in version 20.0: pip now caches wheels built from a Git commit."
        "\n\nThe cache's layout is an implementation detail.\n\npip also respects"
        " XDG_CACHE_HOME."
    )
    assert code_of(document) == [
        ("~/.cache/pip", ""),
        ("import pip", "python"),
        ("$ pip download sampleproject", ""),
    ]


def test_static_site_templating_is_no_prose() -> None:
    """Hugo's shortcodes and Liquid's tags, as Bootstrap's and many sites' docs write
    them: an example's markup and a highlighted listing are code, a callout's body is
    prose, and any other tag or expression shows nothing, while the same braces in code
    stay as written."""
    source = "\n".join(
        (
            "---",
            "title: Badges",
            "---",
            "",
            'Badges scale, see {{< docsref "/utilities" >}} in v{{< param version >}}.',
            "",
            "{{< example >}}",
            '<h1>Example heading <span class="badge">New</span></h1>',
            "{{< /example >}}",
            "",
            "{{< callout warning >}}",
            "Badges may confuse screen readers.",
            "{{< /callout >}}",
            "",
            "{% highlight js %}",
            "$('.badge').show()",
            "{% endhighlight %}",
            "",
            "{% include footer.html %}",
            "A template writes `{{ .Title }}` for the title.",
            "",
            "```go",
            "{{ range .Pages }}{{ .Title }}{{ end }}",
            "```",
            "",
        )
    )
    document = parsed(source, "markdown")
    assert document.title == "Badges"
    assert document.text == (
        "Badges scale, see in v.\n\nBadges may confuse screen readers.\n\nA template"
        " writes {{ .Title }} for the title."
    )
    assert code_of(document) == [
        ('<h1>Example heading <span class="badge">New</span></h1>', "html"),
        ("$('.badge').show()", "js"),
        ("{{ range .Pages }}{{ .Title }}{{ end }}", "go"),
    ]


@pytest.mark.timeout(60)
def test_a_hostile_line_of_braces_is_read_in_linear_time() -> None:
    """Template tags are short, and the rewriter never looks further for one's end: a
    line of 200,000 "{{" (an unbounded search from each would take hours) is read."""
    document = parsed("# Braces\n\n" + "{{" * 200_000 + "\n\nThe end is prose.\n", "markdown")
    assert document.text.endswith("The end is prose.")


def test_what_is_hidden_from_readers_is_no_text() -> None:
    """A dialog shown only on demand (Bootstrap's modal demos, filled with placeholder
    lyrics) and a decorative "×" are hidden from readers: no text of the document."""
    source = (
        "<h1>Modals</h1><p>Modals scroll independently of the page.</p>"
        '<div class="modal" tabindex="-1" aria-hidden="true"><p>Heavy is the head that'
        ' wears the crown.</p><span aria-hidden="true">&times;</span></div>'
        '<p hidden>Not yet.</p><p aria-hidden="false">Shown to all.</p>'
    )
    document = parsed(source, "html")
    assert document.text == "Modals\n\nModals scroll independently of the page.\n\nShown to all."


def test_markdown_without_headings_is_titled_from_the_file_name() -> None:
    """The file name's words, with a capital, as a title reads."""
    assert parsed("just a paragraph", "markdown").title == "From the file name"


@pytest.mark.parametrize(
    ("source", "name", "title"),
    [
        # MkDocs pages start at "##" (the site's navigation titles them): the first of
        # several sections is no title, the file name is.
        ("Why.\n\n## Why use a Client?\n\nSpeed.\n\n## Usage\n\nUse it.\n", "clients", "Clients"),
        # ... spelt as the page spells its words.
        ("## Verification\n\nSSL is on.\n\n## Certificates\n\nSSL again, ssl.x.\n", "ssl", "SSL"),
        # One heading over the others is the page's title, whatever its level.
        ("## Timeouts\n\nWait.\n\n### Connect\n\nA.\n\n### Read\n\nB.\n", "t", "Timeouts"),
        ("# Handbook\n\n## One\n\nA.\n\n## Two\n\nB.\n", "clients", "Handbook"),
        # ... but not when the page opens with text: the heading names a part of it.
        (
            "Starlette includes support for server push.\n\n"
            "### `Request.send_push_promise`\n\nUsed to push.\n",
            "server push",
            "Server push",
        ),
        # ... nor when it comes after other headings: the page's last section.
        (
            "### Response\n\nA.\n\n### HTMLResponse\n\nB.\n\n## Third party responses\n\nC.\n",
            "responses",
            "Responses",
        ),
    ],
)
def test_a_page_of_sections_is_titled_by_its_file_name(source: str, name: str, title: str) -> None:
    assert parse(source, "markdown", fallback_title=name).title == title


def test_emoji_around_a_title_are_left_out() -> None:
    def title(source: str) -> str:
        return parse(source, "markdown", fallback_title="sponsorship").title

    assert (
        title("# ✨ Sponsor Starlette & Uvicorn ✨\n\nThanks.\n") == "Sponsor Starlette & Uvicorn"
    )
    assert title("# C++ ★\n\nA language.\n") == "C++"
    assert title("# 🚀\n\nLaunch.\n") == "🚀"
    assert title("# ⚠️ Cafe\u0301\n\nA place.\n") == "Cafe\u0301"  # its accent stays


def test_a_folder_readme_is_titled_by_the_folder() -> None:
    documents = {
        "guides/advanced/README.md": "## Part one\n\nA.\n\n## Part two\n\nB.\n",
        "event-hooks.md": "Hooks are called.\n",
    }
    titles = {
        path: make_document("p", path, text.encode()).title for path, text in documents.items()
    }
    assert titles == {"guides/advanced/README.md": "Advanced", "event-hooks.md": "Event hooks"}


def test_mkdocs_blocks_read_as_their_built_pages() -> None:
    """An admonition's and a tab's body are prose and code of the page; the marker line
    is not text (a quoted title is); an API stub, filled in by mkdocstrings, is nothing;
    inside a fence, nothing is touched."""
    source = (
        "# API\n\n!!! note\n    Only use these functions in a console.\n\n"
        "::: httpx.request\n    :docstring:\n\n"
        '=== "Sync"\n\n    ```python\n    httpx.get(url)\n    ```\n\n'
        '- Item.\n\n    ??? warning "Mind the pool"\n        Limits apply.\n\n'
        "```\n!!! tip\n    kept as code\n```\n"
    )
    document = parsed(source, "markdown")
    assert document.text == (
        "API\n\nOnly use these functions in a console.\n\nSync\n\nItem.\n\n"
        "Mind the pool\n\nLimits apply."
    )
    assert code_of(document) == [("httpx.get(url)", "python"), ("!!! tip\n    kept as code", "")]


def test_an_html_template_is_no_document() -> None:
    """A site's theme template kept among its documents: tags, expressions and comments
    are no text outside code, so nothing is left of it."""
    template = (
        '{% import "partials/nav-item.html" as item %}\n{# the title #}\n'
        '<nav class="{{ class }}"><label>{{ config.site_name }}</label>'
        "{% for item in nav %}{{ item.render() }}{% endfor %}</nav>"
    )
    with pytest.raises(Unparseable, match="no text"):
        parsed(template, "html")
    page = parsed("<p>Write <code>{{ name }}</code>{% if x %} here{% endif %}.</p>", "html")
    assert page.text == "Write {{ name }} here."


def test_a_theme_template_with_prose_is_no_document() -> None:
    """A theme override that extends the site's base template (MkDocs' overrides/main.html)
    or fills its blocks: its prose is a banner on every page, so it is no page itself.
    Jinja shown as code on a page about templates does not count."""
    override = (
        '{% extends "base.html" %}\n\n{% block announce %}\n<style>div { color: #333; }</style>\n'
        "If you're using uvicorn in production, please consider "
        '<a href="/sponsorship">sponsoring the project</a>.\n{% endblock %}\n'
    )
    with pytest.raises(Unparseable, match="template"):
        parsed(override, "html")
    with pytest.raises(Unparseable, match="template"):
        parsed("{%- block footer %}<p>Built by the docs team.</p>{%- endblock %}", "html")
    shown = parsed(
        "<h1>Inheritance</h1><p>A child template extends its parent:</p>"
        '<pre>{% extends "base.html" %}\n{% block body %}Hi{% endblock %}</pre>'
        "<p>Write <code>{% block title %}</code> to name a block.</p>",
        "html",
    )
    assert shown.title == "Inheritance"
    assert code_of(shown) == [('{% extends "base.html" %}\n{% block body %}Hi{% endblock %}', "")]


# -- reStructuredText ----------------------------------------------------------------------

RST = """\
=============
The Handbook
=============

Intro with *emphasis* and ``literal``.

Usage
=====

Run this::

    wikisaga ingest docs

.. code-block:: python

   print("hello")

Details
-------

- first
- second

.. raw:: html

   <script>alert(1)</script>

.. include:: /etc/passwd

.. a comment that is not prose

>>> 1 + 1
2
"""


def test_rst_keeps_title_and_section_levels_and_sets_code_apart() -> None:
    document = parsed(RST, "rst")

    assert document.title == "The Handbook"
    assert [(h.text, h.level) for h in document.outline] == [
        ("The Handbook", 1),
        ("Usage", 2),
        ("Details", 3),
    ]
    assert_outline_points_at_headings(document)
    assert "Intro with emphasis and literal." in document.text
    assert "first\n\nsecond" in document.text
    assert [(c.text, c.language) for c in document.code_blocks] == [
        ("wikisaga ingest docs", ""),
        ('print("hello")', "python"),
        (">>> 1 + 1\n2", ""),
    ]


def test_rst_reads_no_other_file_and_keeps_no_raw_content_or_comments() -> None:
    document = parsed(RST, "rst")

    assert_nothing_active(document)
    assert "root:" not in document.text
    assert "comment" not in document.text


def test_broken_rst_gives_what_could_be_read() -> None:
    document = parsed("Title\n===\n\n`unclosed\n\n.. unknown-directive::\n\nText.", "rst")

    assert "Text." in document.text


# -- HTML ----------------------------------------------------------------------------------

HTML = """\
<!doctype html>
<html><head><title>The &amp; Page</title>
<style>body { color: red }</style><script>alert("head")</script>
<meta name="x" content="evil()"></head>
<body onload="evil()">
<nav><a href="javascript:evil()">Home</a></nav>
<h1 onclick="evil()">Welcome</h1>
<p>First <b>bold</b> paragraph &lt;escaped&gt;.</p>
<img src="x.png" onerror="alert(1)" alt="picture">
<h2>Code</h2>
<pre><code class="language-rust">fn main() {}
</code></pre>
<table><tr><th>name</th><th>value</th></tr><tr><td>a</td><td>1</td></tr></table>
<svg><title>not the title</title><text>drawn</text></svg>
<template><p>never shown</p></template>
<noscript>enable scripts</noscript>
<!-- a comment -->
<ul><li>one<li>two</ul>
</body></html>
"""


def test_html_keeps_title_outline_prose_and_code() -> None:
    document = parsed(HTML, "html")

    assert document.title == "The & Page"
    assert [(h.text, h.level) for h in document.outline] == [("Welcome", 1), ("Code", 2)]
    assert_outline_points_at_headings(document)
    assert "First bold paragraph <escaped>." in document.text
    assert "name | value\n\na | 1" in document.text
    assert "one\n\ntwo" in document.text
    assert document.code_blocks == (
        CodeBlock("fn main() {}", "rust", document.text.index("name | value") - 2),
    )


def test_html_drops_scripts_styles_templates_comments_and_every_attribute() -> None:
    document = parsed(HTML, "html")

    assert_nothing_active(document)
    for hidden in ("not the title", "drawn", "never shown", "enable scripts", "a comment"):
        assert hidden not in document.text


def test_html_drops_navigation_and_keeps_links_in_prose() -> None:
    """A site's and a manual's navigation is no text of the page: ``nav``,
    ``role="navigation"``, breadcrumbs, and a Texinfo bar of next/previous/up links."""
    source = (
        "<html><body><nav><a href='/'>Home</a> <a href='/docs'>Docs</a></nav>"
        "<div class='header'><p>Next: <a href='b.html' rel='next'>Closure Example</a>, "
        "Previous: <a href='a.html' rel='prev'>Multiple ABIs</a>, Up: <a href='u.html'"
        " rel='up'>Using libffi</a> &nbsp; [<a href='i.html' rel='index'>Index</a>]</p></div>"
        "<ol class='breadcrumb'><li>Manual</li><li>API</li></ol>"
        "<div role='navigation'>Jump to content</div>"
        "<p>libffi provides closures. Read the <a rel='next' href='b.html'>next chapter</a>"
        " for an example.</p></body></html>"
    )
    document = parsed(source, "html")

    assert document.text == ("libffi provides closures. Read the next chapter for an example.")


def test_html_a_navigation_link_in_a_heading_leaves_the_next_block_alone() -> None:
    # The heading's link is no part of the paragraph after it.
    source = "<h2>Setup, then <a rel='next' href='b.html'>usage</a></h2>Contents"
    document = parsed(source, "html")

    assert document.text == "Setup, then usage\n\nContents"


def test_html_with_an_unclosed_head_still_reads_the_body() -> None:
    document = parsed("<html><head><title>T</title><body><p>Body text</p>", "html")

    assert (document.title, document.text) == ("T", "Body text")


def test_html_without_a_title_is_titled_by_its_first_heading() -> None:
    assert parsed("<h2>Sub</h2><p>A part.</p><h1>Main</h1><p>It.</p>", "html").title == "Main"


# -- plain text ------------------------------------------------------------------------------


def test_text_keeps_its_lines_and_finds_underlined_headings() -> None:
    text = "Release notes\n\nFirst line\n  indented line   \n\nChanges\n-------\n\nMore."

    document = parsed(text, "text")

    assert document.title == "Release notes"
    assert document.text == "Release notes\n\nFirst line\n  indented line\n\nChanges\n\nMore."
    assert document.outline == (Heading("Changes", 2, document.text.index("Changes")),)
    assert document.code_blocks == ()


def test_text_whose_first_paragraph_is_long_is_titled_from_the_file_name() -> None:
    assert parsed("a sentence\nover two lines\n\nbody", "text").title == "From the file name"


# -- decoding and formats -----------------------------------------------------------------


def test_decode_drops_a_byte_order_mark_and_normalises_line_ends() -> None:
    assert decode(b"\xef\xbb\xbfone\r\ntwo\rthree\n") == "one\ntwo\nthree\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"abc\x00def", "binary file"),
        (b"caf\xe9", r"not UTF-8 text \(byte 3\)"),
        (b"", "empty file"),
        (b"  \n\t\n", "empty file"),
    ],
)
def test_decode_refuses_what_is_not_text(data: bytes, reason: str) -> None:
    with pytest.raises(Unparseable, match=reason):
        decode(data)


def test_a_document_with_neither_prose_nor_code_is_unparseable() -> None:
    with pytest.raises(Unparseable, match="no text"):
        parse("<script>only()</script>", "html", fallback_title="x")


def test_a_document_of_only_code_is_kept() -> None:
    document = parsed("```\ncode only\n```\n", "markdown")

    assert (document.text, document.code_blocks) == ("", (CodeBlock("code only", "", 0),))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.md", "markdown"),
        ("A.MARKDOWN", "markdown"),
        ("b.rst", "rst"),
        ("c.htm", "html"),
        ("d.html", "html"),
        ("e.txt", "text"),
        ("README", "text"),
        ("docs/CHANGES", "text"),
        ("Code_Of_Conduct", "text"),
        # Without a suffix, only the conventional names of prose are documents: a GitHub
        # Pages domain, a build script or a version number is not one.
        ("docs/CNAME", None),
        ("Makefile", None),
        ("VERSION", None),
        ("f.png", None),
        ("g.py", None),
    ],
)
def test_formats_follow_the_file_name_suffix(name: str, kind: str | None) -> None:
    assert format_of(name) == kind


def test_rst_sphinx_roles_read_as_the_text_sphinx_shows() -> None:
    source = (
        "Email\n=====\n\nThe model is the :class:`~email.message.Message` class; call"
        " :func:`parse <email.parser.parse>` or :py:meth:`!Message.walk`, as :pep:`8`"
        " says.\n"
    )
    document = parsed(source, "rst")

    assert document.text == (
        "Email\n\nThe model is the Message class; call parse or Message.walk, as PEP 8 says."
    )
