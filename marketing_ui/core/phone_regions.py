"""Which country a phone number written without +country belongs to, chosen per import.

The default is the DEFAULT_REGION setting; an import of a French list into a US business
picks FR for that one file. The select offers the common countries, any supported region
code is accepted.
"""

from __future__ import annotations

import phonenumbers

from marketing_ui.core.config import get_settings

COMMON_REGIONS: dict[str, str] = {
    "US": "United States",
    "CA": "Canada",
    "GB": "United Kingdom",
    "IE": "Ireland",
    "AU": "Australia",
    "NZ": "New Zealand",
    "FR": "France",
    "DE": "Germany",
    "ES": "Spain",
    "IT": "Italy",
    "PT": "Portugal",
    "NL": "Netherlands",
    "BE": "Belgium",
    "CH": "Switzerland",
    "AT": "Austria",
    "SE": "Sweden",
    "NO": "Norway",
    "DK": "Denmark",
    "FI": "Finland",
    "PL": "Poland",
    "MX": "Mexico",
    "BR": "Brazil",
    "AR": "Argentina",
    "CO": "Colombia",
    "IN": "India",
    "JP": "Japan",
    "ZA": "South Africa",
}


def check_region(code: str) -> str:
    """The upper-cased code, or ValueError when phonenumbers does not know the region."""
    code = code.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{code[:8]!r} is not a country code phone numbers can use.")
    return code


def region_label(code: str) -> str:
    """ "France (+33)": the name people look for and the prefix they see on numbers."""
    name = COMMON_REGIONS.get(code, code)
    return f"{name} (+{phonenumbers.country_code_for_region(code)})"


def region_choices() -> list[tuple[str, str]]:
    """(code, label) for the select: the configured default first, then the common ones."""
    default = get_settings().default_region
    codes = [default, *sorted((c for c in COMMON_REGIONS if c != default), key=COMMON_REGIONS.get)]
    return [(code, region_label(code)) for code in codes if code in phonenumbers.SUPPORTED_REGIONS]
