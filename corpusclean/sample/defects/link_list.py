"""The ``link_list`` records: directory and "related searches" pages of link titles.

Long lists of link titles, often followed by a URL: lines without terminal punctuation, which
fail at least one of the Gopher (Rae et al. 2021), C4 (Raffel et al. 2020) or FineWeb (Penedo et
al. 2024) rules.
"""

from __future__ import annotations

from random import Random

from corpusclean.sample.urls import random_host, slug
from corpusclean.sample.vocabulary import SITES

_CITIES = (
    "Paris", "London", "Rome", "Berlin", "Madrid", "Lisbon", "Amsterdam", "Prague", "Vienna",
    "Dublin", "New York", "Chicago", "Toronto", "Sydney", "Tokyo", "Bangkok", "Dubai",
    "Barcelona", "Istanbul", "Athens",
)  # fmt: skip
_PRODUCTS = (
    "running shoes", "laptops", "headphones", "coffee machines", "office chairs", "smartphones",
    "car insurance", "garden furniture", "winter jackets", "gaming mice", "air fryers",
    "mattresses", "electric bikes", "watches", "sunglasses", "baby strollers", "tablets",
    "printer ink", "vacuum cleaners", "kitchen knives",
)  # fmt: skip
_THINGS = (
    "music", "movies", "ebooks", "games", "wallpapers", "fonts", "ringtones", "templates",
    "software", "antivirus",
)  # fmt: skip
_TASKS = (
    "lose weight fast", "make money online", "save on energy bills", "fix a slow computer",
    "get more followers", "learn guitar", "find cheap flights", "clean your oven",
    "start a blog", "grow tomatoes", "pass your driving test", "improve your credit score",
)  # fmt: skip
_LINK_TITLES = (
    "Best cheap flights to {city}", "Top {n} hotels in {city}", "{city} travel guide",
    "Cheap car hire in {city}", "{city} weather forecast", "Things to do in {city}",
    "Buy {product} online", "Cheap {product} deals", "{Product} reviews and prices",
    "Best {product} {year}", "Free {thing} download", "How to {task}", "{n} ways to {task}",
    "Download {thing} for free", "{Product} discount codes", "{Product} on sale",
)  # fmt: skip
_LINK_HEADERS = (
    "Useful links", "Popular searches", "Related searches", "Sitemap", "Links", "Top searches",
    "Partner sites", "Recommended", "Quick links",
)  # fmt: skip


def link_list(rng: Random) -> tuple[str, str]:
    """``(text, url)`` of a header and 15-150 link lines, mostly in one of five styles."""
    host = random_host(rng)
    style = rng.randrange(5)
    lines = [rng.choice(_LINK_HEADERS)]
    for i in range(rng.randint(15, 150)):
        title = _link_title(rng)
        link = f"https://{host if rng.random() < 0.6 else random_host(rng)}/{slug(title)}"
        lines.append(
            (
                f"{title} - {link}",
                f"{title} | {rng.choice(SITES).title()}",
                title,
                f"» {title}",
                f"{i + 1}. {title} ({link})",
            )[style if rng.random() < 0.85 else rng.randrange(5)]
        )
    path = rng.choice(("links", "directory", "sitemap", "resources", "tag/deals"))
    return "\n".join(lines), f"https://{host}/{path}"


def _link_title(rng: Random) -> str:
    product = rng.choice(_PRODUCTS)
    return rng.choice(_LINK_TITLES).format(
        city=rng.choice(_CITIES), n=rng.randint(3, 25), product=product,
        Product=product.capitalize(), year=rng.randint(2015, 2024), thing=rng.choice(_THINGS),
        task=rng.choice(_TASKS),
    )  # fmt: skip
