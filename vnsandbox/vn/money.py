"""Amounts of VND in Vietnamese words, as receipts (biên lai) print them."""

from __future__ import annotations

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_GROUP_UNITS = ("", "nghìn", "triệu", "tỷ", "nghìn tỷ")


def _three_digits(n: int, inner: bool) -> list[str]:
    """Words of 0..999; ``inner`` groups (after a higher one) say "không trăm" and "linh"."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or inner:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
        if units:
            words.append(_DIGITS[units])
        return words
    words += ["mười"] if tens == 1 else [_DIGITS[tens], "mươi"]
    if units == 5:
        words.append("lăm")
    elif units == 1 and tens > 1:
        words.append("mốt")
    elif units == 4 and tens > 1:
        words.append("tư")
    elif units:
        words.append(_DIGITS[units])
    return words


def amount_in_words(amount: int) -> str:
    """An amount of VND in Vietnamese words, as receipts print it ("Một trăm năm mươi nghìn đồng")."""
    if amount <= 0:
        return "Không đồng"
    groups: list[int] = []
    while amount:
        groups.append(amount % 1000)
        amount //= 1000
    if len(groups) > len(_GROUP_UNITS):
        raise ValueError("amount too large")
    words: list[str] = []
    for i in reversed(range(len(groups))):
        if groups[i] == 0:
            continue
        words += _three_digits(groups[i], inner=i < len(groups) - 1)
        if _GROUP_UNITS[i]:
            words.append(_GROUP_UNITS[i])
    text = " ".join(words)
    return text[0].upper() + text[1:] + " đồng"
