r"""Paper text made safe for BibTeX and LaTeX: pure functions, used by the BibTeX export.

Titles arrive as plain Unicode (Hugging Face) or as LaTeX source (the arXiv API and snapshot: `$\alpha$-nets`,
`Schr\"odinger`, `R\&D`). `latex_text` keeps what LaTeX already present means, and makes everything else print
as typed:

- inline math `$…$` is kept when it is well formed: braces balanced and only common math commands (Greek
  letters, fonts, operators, relations), so `$\mathcal{O}(n)$` still typesets;
- text accents (`\"o`, `{\'e}`, `\c{c}`) and letters (`\ss`, `\o`) become the Unicode character;
- already escaped specials (`\&`, `\%`, `\_`, `\$`, `\#`, `\{`) stay that character;
- every other special character is escaped, so it prints as itself and can neither unbalance the entry's
  braces (BibTeX counts every brace, even `\{`, hence `\textbraceleft{}`) nor run a command: a stray
  `\input{x}` prints as text.
"""

from __future__ import annotations

import re
import unicodedata

ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "_": r"\_",
    "#": r"\#",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# Combining marks of LaTeX's text accents: `\"o` is o + U+0308 (ö).
ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
}
# Math commands a title may keep: symbols, fonts and operators, nothing that reads files or defines macros.
_MATH_WORDS = """
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi rho
    varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi
    Psi Omega mathcal mathbb mathbf mathrm mathit mathsf mathtt mathfrak boldsymbol bm text textrm textit textbf
    textsf texttt operatorname frac dfrac tfrac sqrt sum prod coprod int iint oint lim limsup liminf log ln lg
    exp sin cos tan sinh cosh tanh arg max min sup inf det dim ker deg Pr leq le geq ge neq ne approx sim simeq
    cong equiv propto ll gg in ni notin subset subseteq supset supseteq cup cap bigcup bigcap setminus mid
    parallel to rightarrow leftarrow Rightarrow Leftarrow leftrightarrow Leftrightarrow mapsto gets
    longrightarrow implies iff infty partial nabla ell hbar cdot cdots ldots dots vdots ddots times div pm mp
    circ bullet star ast forall exists nexists emptyset varnothing neg lnot land lor wedge vee prime top bot
    perp dagger oplus otimes odot langle rangle lfloor rfloor lceil rceil vert Vert hat tilde bar vec dot ddot
    check breve acute grave overline underline widehat widetilde overrightarrow left right big Big bigg Bigg
    quad qquad mathop limits nolimits star aleph beth Re Im wp angle triangle square Box diamond
"""
MATH_COMMANDS = frozenset(_MATH_WORDS.split())

# TeX's own rule for inline math: no space just inside either `$`, so "Pay $5 to save $10" stays two dollars.
_MATH = re.compile(r"\$([^$\s](?:[^$]*[^$\s])?)\$")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.S)
# `\"o`, `\"{o}`, `{\"o}`, `\c{c}`, `\c c`, `\'\i`: a text accent on one letter, optionally in a group.
_ACCENT = re.compile(
    r"""(?P<open>\{)?\\(?:(?P<sym>["'`^~=.])\s*|(?P<word>[uvHckr])(?:\s+|(?=\{)))"""
    r"""(?:\{(?P<inner>\\[ij]|[A-Za-z])\}|(?P<bare>\\[ij](?![A-Za-z])|[A-Za-z]))(?(open)\})"""
)
_LETTER = re.compile(r"(?P<open>\{)?\\(?P<name>ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z])(?:\{\})?(?(open)\})")
_ESCAPED = re.compile(r"\\([%&$_#{}])")


def latex_text(text: str) -> str:
    r"""`text` as LaTeX that prints it (see the module docstring):
    `latex_text("50% of $\alpha$ & {x}") == "50\% of $\alpha$ \& \textbraceleft{}x\textbraceright{}"`."""
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    out: list[str] = []
    pos = 0
    while pos < len(text):
        math = _MATH.match(text, pos)
        if math and safe_math(math.group(1)):
            out.append(math.group(0))
            pos = math.end()
            continue
        literal, pos = _next_char(text, pos)
        out.append(ESCAPES.get(literal, literal))
    return unicodedata.normalize("NFC", "".join(out))


def _next_char(text: str, pos: int) -> tuple[str, int]:
    """The character that the LaTeX at `pos` stands for (an accented letter, an escaped special, or itself)."""
    accent = _ACCENT.match(text, pos)
    if accent:
        base = accent.group("inner") or accent.group("bare")
        base = {"\\i": "i", "\\j": "j"}.get(base, base)
        return unicodedata.normalize("NFC", base + ACCENTS[accent.group("sym") or accent.group("word")]), accent.end()
    letter = _LETTER.match(text, pos)
    if letter:
        return LETTERS[letter.group("name")], letter.end()
    escaped = _ESCAPED.match(text, pos)
    if escaped:
        return escaped.group(1), escaped.end()
    return text[pos], pos + 1


def safe_math(body: str) -> bool:
    r"""Whether `$body$` can be kept as LaTeX: balanced braces, no bare `%#&`, only known commands.
    `safe_math("\\mathcal{O}(n^2)") is True`, `safe_math("\\input{x}") is False`."""
    # `^^5c` is TeX's spelling of a backslash: it could build any command out of letters.
    if not body.strip() or not balanced(body) or "^^" in body:
        return False
    plain = _COMMAND.sub("", body)  # what is left outside commands may not hold a comment, a parameter or a tab
    if any(ch in plain for ch in "%#&\\"):
        return False
    for match in _COMMAND.finditer(body):
        name = match.group(1)
        if name.isalpha() and name not in MATH_COMMANDS:
            return False
        if not name.isalpha() and name not in "{}|,;:! %#&_":
            return False
    return True


def balanced(text: str) -> bool:
    r"""Whether every brace closes, counted as BibTeX counts them (a backslash does not hide one):
    `balanced("a{b}") is True`, `balanced("\\{") is False`."""
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def bibtex_name(name: str) -> str:
    """One author for BibTeX's `author` field: escaped, and grouped when BibTeX would split or reorder it
    (a name holding the word "and" or a comma): `bibtex_name("R and D Team") == "{R and D Team}"`."""
    text = latex_text(name)
    if re.search(r"(?i)\band\b", text) or "," in text or text.lower() == "others":
        return "{" + text + "}"
    return text
