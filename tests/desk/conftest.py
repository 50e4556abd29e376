"""The desk's browser tests use the shared browser fixtures (tests/browser.py): one Debian
Chromium per module, one page, and a watcher that fails a test on any console error or failed
request in the page."""

from tests.browser import browser, no_problems_in_the_page, page, problems

__all__ = ["browser", "no_problems_in_the_page", "page", "problems"]
