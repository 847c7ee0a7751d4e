"""Words shared by several kinds of page: site names, news categories, month names.

Each page kind keeps the rest of its vocabulary in its own module; these few are drawn by more
than one (titles, URLs, copies' headers and footers, boilerplate).
"""

from __future__ import annotations

SITES: tuple[str, ...] = (
    "dailynotes", "techjournal", "learnpython", "codingblog", "cityherald", "morningpost",
    "homeandgarden", "travelnotes", "devweekly", "readerscorner", "weekendreads", "softwarediary",
    "localnews", "kitchenstories", "docsdigest", "betterwriting", "slowliving", "thenewsroom",
    "fieldnotes", "openforum", "greenvalley", "brightside", "northstar", "citylife", "bytesized",
    "plainenglish", "longreads", "smalltownnews", "makersguild", "quietdesk",
)  # fmt: skip
CATEGORIES: tuple[str, ...] = (
    "News", "Sports", "Business", "Technology", "Health", "Travel", "Food", "Lifestyle",
    "Opinion", "Entertainment", "Science", "Education", "Local", "World", "Weather",
)  # fmt: skip
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
