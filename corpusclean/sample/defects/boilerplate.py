"""The ``boilerplate`` records: pages that are all navigation, notices and footers.

Navigation bars, breadcrumbs, cookie and JavaScript notices, footers and short unpunctuated lines:
page furniture that fails at least one of the Gopher (Rae et al. 2021), C4 (Raffel et al. 2020)
or FineWeb (Penedo et al. 2024) rules, mostly those on unpunctuated lines.
"""

from __future__ import annotations

from random import Random

from corpusclean.sample.urls import random_host
from corpusclean.sample.vocabulary import CATEGORIES, MONTHS, SITES

_NAV = (
    "Home", "About", "About Us", "Contact", "Contact Us", "Blog", "News", "Shop", "Services",
    "Products", "Careers", "FAQ", "Help", "Support", "Login", "Sign In", "Register",
    "My Account", "Cart", "Checkout", "Search", "Events", "Gallery", "Team", "Pricing",
    "Resources", "Downloads", "Press", "Partners", "Sitemap",
)  # fmt: skip
_COOKIE = (
    "We use cookies to improve your experience on our website. By continuing to browse, you "
    "agree to our use of cookies.",
    "This website uses cookies to ensure you get the best experience on our website.",
    "We and our partners use cookies to personalise content and ads and to analyse our traffic.",
    "Accept all cookies", "Cookie settings", "Manage preferences", "Reject non-essential cookies",
    "Accept", "Learn more",
)  # fmt: skip
_JS = (
    "JavaScript is disabled in your browser.",
    "Please enable JavaScript to view this page.",
    "You need to enable JavaScript to run this app.",
    "Your browser does not support the video tag.",
    "This site works best with JavaScript enabled",
    "Please update your browser to view this website correctly",
)  # fmt: skip
_FOOTER = (
    "Privacy Policy", "Terms of Use", "Terms and Conditions", "Cookie Policy", "Accessibility",
    "All rights reserved.", "Powered by WordPress", "Back to top", "Follow us", "Facebook",
    "Twitter", "Instagram", "LinkedIn", "YouTube", "Subscribe to our newsletter",
    "Enter your email address", "Subscribe", "Site map", "Imprint",
    "Do not sell my personal information", "Contact us", "Advertise with us",
)  # fmt: skip
_MISC = (
    "Skip to navigation", "Menu", "Close", "Search", "Search for:", "Toggle navigation",
    "Loading...", "Read more", "Share", "Print", "Previous", "Next", "Recent Posts",
    "Categories", "Archives", "Tags", "Popular", "Uncategorized", "Leave a comment",
    "Log in", "Entries feed", "Comments feed", "Select language", "English", "Deutsch",
    "Français", "Español", "Related articles", "Trending now", "Most read", "Sponsored",
    "Advertisement", "Show more", "View all",
)  # fmt: skip


def boilerplate(rng: Random) -> tuple[str, str]:
    """``(text, url)`` of a page of navigation, notices and footer."""
    site = rng.choice(SITES).title()
    nav = " | ".join(rng.sample(_NAV, rng.randint(4, 8)))
    lines = ["Skip to main content"] if rng.random() < 0.6 else []
    lines += [site, nav]
    if rng.random() < 0.5:
        lines.append(" » ".join(["Home", *rng.sample(CATEGORIES, rng.randint(1, 2))]))
    body = [rng.choice(_MISC + CATEGORIES) for _ in range(rng.randint(10, 90))]
    for _ in range(rng.randint(0, 12)):
        body.append(f"{rng.choice(MONTHS)} {rng.randint(2012, 2024)}")
    if rng.random() < 0.7:
        body += rng.sample(_COOKIE, rng.randint(1, 3))
    if rng.random() < 0.5:
        body += rng.sample(_JS, rng.randint(1, 2))
    rng.shuffle(body)
    lines += body
    footer = rng.sample(_FOOTER, rng.randint(3, 8))
    lines += [" | ".join(footer)] if rng.random() < 0.5 else footer
    lines.append(f"© {rng.randint(2005, 2024)} {site}. All rights reserved.")
    if rng.random() < 0.5:
        lines.append(nav)
    path = rng.choice(("", "about", "contact", "privacy-policy", "category/news/page/3", "tag"))
    return "\n".join(lines), f"https://{random_host(rng)}/{path}"
