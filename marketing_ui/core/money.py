"""Money: currencies, ticket amounts typed at the counter, and how an amount is shown.

Amounts are integers in the currency's minor unit (cents; yen have none), never floats; prices
per message are `Decimal`s (a fraction of a cent). Typed amounts accept what people write at
a till: "12.50", "12,50", "$12.50", "1,234.50", "1.234,50", "12 €". Anything else is refused
with a sentence that starts with the field's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation


@dataclass(frozen=True)
class Currency:
    code: str  # ISO 4217
    symbol: str
    exponent: int  # digits of the minor unit (USD 2, JPY 0, KWD 3)
    symbol_after: bool = False  # "12,50 €" rather than "€12.50"


_LIST = (
    Currency("USD", "$", 2),
    Currency("EUR", "€", 2),
    Currency("GBP", "£", 2),
    Currency("CAD", "$", 2),
    Currency("AUD", "$", 2),
    Currency("NZD", "$", 2),
    Currency("CHF", "CHF", 2),
    Currency("JPY", "¥", 0),
    Currency("CNY", "¥", 2),
    Currency("INR", "₹", 2),
    Currency("MXN", "$", 2),
    Currency("BRL", "R$", 2),
    Currency("SEK", "kr", 2, symbol_after=True),
    Currency("NOK", "kr", 2, symbol_after=True),
    Currency("DKK", "kr", 2, symbol_after=True),
    Currency("PLN", "zł", 2, symbol_after=True),
    Currency("CZK", "Kč", 2, symbol_after=True),
    Currency("HUF", "Ft", 2, symbol_after=True),
    Currency("ZAR", "R", 2),
    Currency("SGD", "$", 2),
    Currency("HKD", "$", 2),
    Currency("KRW", "₩", 0),
    Currency("TRY", "₺", 2),
    Currency("ILS", "₪", 2),
    Currency("AED", "AED", 2),
    Currency("KWD", "KD", 3),
)
CURRENCIES: dict[str, Currency] = {c.code: c for c in _LIST}
CURRENCY_CODES = tuple(CURRENCIES)
MAX_AMOUNT_TEXT = 32  # longer than any ticket anyone types: refused before parsing
_SPACES = re.compile(r"[\s\u00a0\u202f']")  # spaces, no-break spaces, Swiss apostrophes
_GROUPED = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


@dataclass(frozen=True)
class Amount:
    """A ticket amount: minor units of a currency (1250 USD is $12.50)."""

    minor: int
    currency: str

    def __str__(self) -> str:
        return format_minor(self.minor, self.currency)


class AmountError(ValueError):
    """A typed amount that is not one; the message starts with the field's label."""


def currency(code: str) -> Currency:
    """The currency of an ISO code from the list (KeyError otherwise)."""
    return CURRENCIES[code]


def _strip_symbols(text: str, cur: Currency) -> str:
    """Without the currency's own symbol or code (another currency's stays, and is refused)."""
    for symbol in sorted({cur.symbol, cur.code}, key=len, reverse=True):
        if text.startswith(symbol):
            return text[len(symbol) :]
        if text.endswith(symbol):
            return text[: -len(symbol)]
    return text


def _as_decimal(text: str) -> Decimal | None:
    """Digits with one decimal separator (dot or comma) and optional thousands groups."""
    if not re.fullmatch(r"[\d.,]+", text) or not text[0].isdigit() or not text[-1].isdigit():
        return None
    dots, commas = text.count("."), text.count(",")
    if dots and commas:  # the last one is the decimal separator: "1,234.50" / "1.234,50"
        decimal_sep = "." if text.rfind(".") > text.rfind(",") else ","
        whole, _, fraction = text.rpartition(decimal_sep)
        if not _GROUPED.match(whole) or whole.count(decimal_sep):
            return None
        grouping = "," if decimal_sep == "." else "."
        whole = whole.replace(grouping, "")
    elif dots + commas == 0:
        whole, fraction = text, ""
    elif dots + commas == 1:
        whole, _, fraction = text.replace(",", ".").partition(".")
        if commas and _GROUPED.match(text):
            whole, fraction = whole + fraction, ""  # "1,234": a thousands separator; a lone
            # dot is always decimal, so "12.505" is refused as too precise, not read as 12505
    elif _GROUPED.match(text) and (dots == 0 or commas == 0):
        whole, fraction = re.sub(r"[.,]", "", text), ""  # "1,234,567"
    else:
        return None
    return Decimal(f"{whole}.{fraction}" if fraction else whole)


def parse_amount(
    text: object, code: str, max_minor: int | None = None, field_label: str = "Ticket amount"
) -> int | None:
    """A typed amount in minor units, None when nothing was typed; AmountError otherwise."""
    cur = currency(code)
    raw = str(text if text is not None else "").strip()
    if not raw:
        return None
    if len(raw) > MAX_AMOUNT_TEXT:
        raise AmountError(f"{field_label}: that is not an amount (too long).")
    cleaned = _SPACES.sub("", raw)
    if cleaned.startswith(("-", "(", "−")) or cleaned.endswith((")", "-")):
        raise AmountError(f"{field_label}: cannot be negative.")
    cleaned = _SPACES.sub("", _strip_symbols(cleaned, cur))
    if cleaned.startswith(("-", "−")):
        raise AmountError(f"{field_label}: cannot be negative.")
    value = _as_decimal(cleaned)
    if value is None:
        raise AmountError(
            f"{field_label}: expected an amount such as 12.50 or 12,50, got “{raw[:20]}”."
        )
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > cur.exponent:
        allowed = f"at most {cur.exponent} decimals" if cur.exponent else "no decimals"
        raise AmountError(f"{field_label}: {cur.code} amounts have {allowed}.")
    minor = int(value.scaleb(cur.exponent))
    if max_minor is not None and minor > max_minor:
        raise AmountError(
            f"{field_label}: more than the largest ticket allowed ({format_minor(max_minor, code)}"
            "); check the amount, or raise the limit in Settings."
        )
    return minor


def to_minor(value: Decimal, code: str) -> int:
    return int(value.scaleb(currency(code).exponent).to_integral_value(ROUND_HALF_EVEN))


def from_minor(minor: int, code: str) -> Decimal:
    return Decimal(minor).scaleb(-currency(code).exponent)


def format_amount(value: Decimal, code: str, places: int | None = None) -> str:
    """An amount as people read it: "$1,234.50", "12.50 kr"; `places` for prices per message."""
    cur = currency(code)
    digits = cur.exponent if places is None else places
    quantum = Decimal(1).scaleb(-digits)
    number = f"{abs(value.quantize(quantum, ROUND_HALF_EVEN)):,.{digits}f}"
    sign = "−" if value < 0 else ""
    return f"{sign}{number} {cur.symbol}" if cur.symbol_after else f"{sign}{cur.symbol}{number}"


def format_minor(minor: int, code: str) -> str:
    return format_amount(from_minor(minor, code), code)


def parse_price(text: object, field_label: str) -> Decimal:
    """A price per message: a plain decimal from 0 to 10 with at most 6 decimals."""
    raw = str(text if text is not None else "").strip().replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not re.fullmatch(r"\d+(\.\d+)?|\.\d+", raw):
        raise AmountError(f"{field_label}: expected a price such as 0.0079, got “{raw[:20]}”.")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise AmountError(f"{field_label}: at most 6 decimals.")
    if value > 10:
        raise AmountError(f"{field_label}: expected at most 10 per message.")
    return value
