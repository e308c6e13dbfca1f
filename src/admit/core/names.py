"""What usernames, e-mail addresses and other text may contain.

A username's unique key is its NFKC form, case-folded (``normalize_username``), and every
username rule judges that key, never the text as typed: ``ａｄｍｉｎ`` is ``admin``. A name is
also refused (``username_lookalike``) when its key

- is not allowed by RFC 8265's UsernameCaseMapped profile (``precis-i18n``): no spaces,
  symbols, non-ASCII punctuation, control or format characters, default-ignorable code
  points (U+034F COMBINING GRAPHEME JOINER, the Hangul fillers), unassigned code points, and
  right-to-left text only as RFC 5893's Bidi Rule allows;
- has a character that shows nothing: a format character (U+200B ZERO WIDTH SPACE, U+00AD
  SOFT HYPHEN, bidi controls; U+200C and U+200D only where the profile allows them), a
  private-use or unassigned code point, U+2800 BRAILLE PATTERN BLANK, a Hangul filler;
- has a combining mark that follows no letter (a lone U+0301);
- mixes scripts beyond what UTS #39 calls "highly restrictive": one script, or Latin with
  Han, Hiragana and Katakana (Japanese), with Han and Bopomofo (Chinese), or with Han and
  Hangul (Korean). Digits 0-9, ASCII punctuation and combining marks belong to no script.
  A character's script is the first word of its Unicode name (``CYRILLIC SMALL LETTER A``);
- is not its own key (keys of a few odd mark sequences change when normalised again).

Reserved words are matched against the key's ``skeleton``: combining marks dropped and the
dotless i and j dotted, so ``ADMİN`` and ``ádmin`` are ``admin``. An e-mail address's local
part, and each label of its domain, get the same look-alike checks but the PRECIS profile
(``email_lookalike``).

Text elsewhere (``control_character``): no control character (Unicode category Cc: NUL, the
other C0 controls, DEL, the C1 controls) and no lone surrogate; passwords keep the ASCII
whitespace controls (tab, line feed, ...) as typed, and multi-line text keeps tab and the
line breaks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache

from precis_i18n import get_profile
from precis_i18n.profile import Profile

# Control characters that some text keeps as typed.
WHITESPACE_CONTROLS = "\t\n\x0b\x0c\r"
LINE_BREAKS = "\t\n\r"

# Letters that show nothing although Unicode does not call them ignorable or spaces.
_BLANK = frozenset("\u2800\u115f\u1160\u3164\uffa0")

_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_JOINERS = "\u200c\u200d"

# The scripts that may share one name, besides a single script (UTS #39, 5.2).
_SCRIPT_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Leading words of character names that are not the script's own name.
_SCRIPT_OF_WORD = {
    "CJK": "HAN",
    "IDEOGRAPHIC": "HAN",
    "KATAKANA-HIRAGANA": "KATAKANA",
    "HENTAIGANA": "HIRAGANA",
    "ARABIC-INDIC": "ARABIC",
    "EXTENDED": "ARABIC",  # EXTENDED ARABIC-INDIC DIGIT
}
# Leading words of letters, marks and digits that belong to no one script.
_NO_SCRIPT_WORDS = frozenset({"COMBINING", "MODIFIER", "DIGIT"})
_DOTLESS = str.maketrans({"\u0131": "i", "\u0237": "j"})


def normalize_username(username: str) -> str:
    """The unique key of a username: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", username).casefold()


def normalize_email(email: str) -> str:
    """The unique key of an e-mail address, made as a username's."""
    return unicodedata.normalize("NFKC", email).casefold()


def has_whitespace(value: str) -> bool:
    """Whether ``value`` has any whitespace, which usernames and e-mail addresses may not."""
    return any(char.isspace() for char in value)


def control_character(value: str, keep: str = "") -> str | None:
    """The first control character or lone surrogate of ``value`` not in ``keep``, as
    ``U+0000``; None when there is none."""
    if value.isprintable():  # no Cc, Cs (nor Cf, Zs, ...): the common case, at C speed
        return None
    for char in value:
        if char not in keep and unicodedata.category(char) in ("Cc", "Cs"):
            return f"U+{ord(char):04X}"
    return None


@cache
def _username_profile() -> Profile:
    return get_profile("UsernameCaseMapped")


def username_lookalike(key: str) -> str | None:
    """Why the username whose key is ``key`` could pass for another; None if it cannot.

    ``key`` is ``normalize_username``'s result; spaces in it are the whitespace rule's."""
    key = "".join(char for char in key if not char.isspace())
    if not key:
        return None
    problem = _shape_problem(key, joiners=True)
    if problem:
        return problem
    try:
        enforced = _username_profile().enforce(key)
    except UnicodeError as exc:
        return f"not allowed in a username (RFC 8265): {getattr(exc, 'reason', exc)}"
    if enforced != unicodedata.normalize("NFC", key):
        return "not a stable username under RFC 8265"
    if normalize_username(key) != key:
        return "not stable under normalisation"
    return None


def email_lookalike(key: str) -> str | None:
    """Why the e-mail address whose key is ``key`` could pass for another, judged on its local
    part and on each label of its domain (``exаmple.com``, with a Cyrillic a); None if it
    cannot."""
    local, _, domain = key.rpartition("@")
    for part in (local, *domain.split(".")):
        problem = _shape_problem(part, joiners=False)
        if problem:
            return problem
    return None


def _shape_problem(text: str, joiners: bool) -> str | None:
    """Invisible characters, marks on no letter, mixed scripts. ``joiners``: leave U+200C and
    U+200D, which some scripts need, to the PRECIS profile's rules of where they may be."""
    previous = ""
    scripts: set[str] = set()
    for char in text:
        category = unicodedata.category(char)
        if char in _BLANK or category in _INVISIBLE and not (joiners and char in _JOINERS):
            return f"invisible character U+{ord(char):04X}"
        if category[0] == "M" and not (previous and unicodedata.category(previous)[0] in "LM"):
            return f"combining mark U+{ord(char):04X} follows no letter"
        script = _script(char, category)
        if script:
            scripts.add(script)
        previous = char
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_SETS):
        return "mixes the scripts " + ", ".join(sorted(scripts))
    return None


@lru_cache(maxsize=4096)
def _script(char: str, category: str) -> str | None:
    """The script of a letter, mark or digit, from the first word of its Unicode name
    (``LATIN SMALL LETTER A``, ``CYRILLIC ...``, ``CJK UNIFIED IDEOGRAPH-...``); None for
    ASCII digits, punctuation, symbols and the combining marks that any script uses."""
    if category[0] not in "LMN" or char.isascii() and not char.isalpha():
        return None
    word = unicodedata.name(char, "").split(" ", 1)[0]
    if not word or word in _NO_SCRIPT_WORDS:
        return None
    return _SCRIPT_OF_WORD.get(word, word)


def skeleton(text: str) -> str:
    """``text`` without its combining marks, dotless i and j dotted, case-folded: what a
    reserved word is looked for in."""
    bare = "".join(
        char for char in unicodedata.normalize("NFD", text) if unicodedata.category(char)[0] != "M"
    )
    return bare.translate(_DOTLESS).casefold()


def contains_reserved(key: str, words: Iterable[str]) -> bool:
    """Whether a reserved word is in ``key``, marks and case aside."""
    bare = skeleton(key)
    return any(skeleton(word) in bare for word in words if word)
