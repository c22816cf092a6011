"""Why MJML runs once per campaign: personalizing a compiled email vs. re-running MJML per recipient.

Run `python -m bench.rendering [--quick]`; writes bench/results/rendering.json and the
"## Rendering" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import machine, replace_section, write_results
from marketing_ui.core.images import ASSETS_DIR, resolve_image
from marketing_ui.core.rendering import (
    CompiledEmail,
    compile_email,
    list_templates,
    personalize,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "rendering.json"
DOCS = ROOT / "docs" / "benchmarks.md"
BASE_URL = "https://mail.example-trattoria.com"
FIRST_NAMES = [
    "Alex",
    "María José",
    "Zoë",
    "李",
    "O'Brien",
    "<b>Sam</b>",
    "Nnamdi",
    None,
    "",
    "Chloé",
]


def _resolver(ref: str) -> str:
    """Production strategy: absolute URLs, as the send worker uses them."""
    return resolve_image(ref, mode="url", folders=(ASSETS_DIR,), base_url=BASE_URL)


def recipient_context(index: int, rng: random.Random) -> dict[str, Any]:
    """One recipient as the send worker would assemble it: unique tokens and codes."""
    token = secrets.token_urlsafe(24)
    code = "".join(rng.choices("ABCDEFGHJKMNPQRSTUVWXYZ23456789", k=6))
    return {
        "first_name": FIRST_NAMES[index % len(FIRST_NAMES)],
        "last_name": "Rossi",
        "offer_text": "2-for-1 fresh pasta, all day Monday",
        "offer_expires": "August 4, 2026",
        "qr_code_url": f"{BASE_URL}/qr/{token}.png",
        "coupon_code": f"{code[:3]}-{code[3:]}",
        "coupon_url": f"{BASE_URL}/coupon/{token}",
        "unsubscribe_url": f"{BASE_URL}/u/{token}",
        "view_in_browser_url": f"{BASE_URL}/v/{token}",
        "business_name": "Trattoria Esempio",
        "business_address": "123 Main Street, Springfield, IL 62701",
        "sender_name": "Maria",
        "click_url": lambda n, t=token: f"{BASE_URL}/c/{t}/{n}",
        "open_pixel_url": f"{BASE_URL}/o/{token}.gif",
    }


def _rate(count: int, work: Callable[[], None]) -> float:
    """Items per CPU second of this single-threaded process: other load on the host cannot skew it."""
    started = time.process_time()
    work()
    return count / (time.process_time() - started)


def measure(recipients: int, mjml_sample: int, seed: int = 7) -> dict[str, Any]:
    """Both rates in one single-threaded process; contexts are built before the clock starts."""
    info = next(t for t in list_templates() if t.name == "monday_special")
    rng = random.Random(seed)
    contexts = [recipient_context(i, rng) for i in range(recipients)]

    def compile_once() -> CompiledEmail:
        return compile_email(
            info.mjml, info.subject, info.preheader, track_links=True, image_resolver=_resolver
        )

    compiled = compile_once()
    personalize(compiled, contexts[0])  # warm caches

    def personalize_all() -> None:
        for context in contexts:
            personalize(compiled, context)

    def mjml_each() -> None:
        for context in contexts[:mjml_sample]:
            personalize(compile_once(), context)

    personalized_per_s = _rate(recipients, personalize_all)
    mjml_each_per_s = _rate(mjml_sample, mjml_each)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "recipients": recipients,
        "mjml_sample": mjml_sample,
        "personalized_per_s": round(personalized_per_s),
        "mjml_each_per_s": round(mjml_each_per_s, 1),
        "ratio": round(personalized_per_s / mjml_each_per_s, 1),
        "html_bytes": len(personalize(compiled, contexts[0]).html),
        "machine": machine(),
    }


def write_docs(result: dict[str, Any]) -> None:
    """Replace only the "## Rendering" section so other benchmarks' sections survive."""
    section = (
        "## Rendering\n\n"
        f"Measured {result['date']} with `python -m bench.rendering` on {result['machine']}, "
        "one single-threaded process; rates are per CPU second of that process.\n\n"
        "The `monday_special` template (tracked links, open pixel, production image URLs, "
        f"{result['html_bytes']:,} bytes of HTML per email) is compiled once, then personalized "
        "(HTML, plain text and subject) for each recipient, versus re-running MJML and Jinja "
        "compilation for every recipient.\n\n"
        "| strategy | recipients | recipients/s |\n|---|---:|---:|\n"
        f"| compile once, personalize each | {result['recipients']:,} "
        f"| {result['personalized_per_s']:,} |\n"
        f"| MJML + compile per recipient | {result['mjml_sample']:,} "
        f"| {result['mjml_each_per_s']:,} |\n\n"
        f"Compiling once is **{result['ratio']:,}x** faster; the send worker therefore caches "
        "one `CompiledEmail` per campaign version.\n\n"
    )
    replace_section("Rendering", section.removeprefix("## Rendering\n\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 recipients, 200 MJML runs")
    args = parser.parse_args()
    result = measure(10_000, 200) if args.quick else measure(100_000, 2_000)
    write_results("rendering", result)
    write_docs(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
