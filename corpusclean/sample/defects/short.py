"""The ``short`` records: 1-10 word pages ("404 Not Found", "Loading...").

Error, placeholder and empty pages: far below the 50 words Gopher's quality rules require of a
document (Rae et al. 2021).
"""

from __future__ import annotations

from random import Random

from corpusclean.sample.urls import random_host

_SHORT = (
    "404 Not Found", "Page not found", "Loading...", "Please wait...", "Access Denied",
    "403 Forbidden", "Coming soon!", "Under construction", "This site can't be reached",
    "Redirecting...", "Error 503 Service Unavailable", "Your cart is empty.", "No results found.",
    "Sign in to continue", "Enable JavaScript to continue", "Hello world!", "Test page",
    "Maintenance mode", "Session expired. Please log in again.", "Out of stock", "502 Bad Gateway",
    "Thank you for your order!", "Click here to continue", "Index of /", "Domain for sale",
    "It works!", "Nothing here yet.", "Account suspended", "Page moved", "Untitled",
)  # fmt: skip


def short(rng: Random) -> tuple[str, str]:
    """``(text, url)`` of one or two short placeholder lines (10 words at most)."""
    text = rng.choice(_SHORT)
    if rng.random() < 0.25:
        extra = rng.choice(_SHORT)
        if len(text.split()) + len(extra.split()) <= 10 and extra != text:
            text = f"{text}\n{extra}"
    path = rng.choice(("404", "loading", "cart", "login", "index.html", "old-page", ""))
    return text, f"https://{random_host(rng)}/{path}"
