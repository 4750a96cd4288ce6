"""`is_link_preview` answers each distinct User-Agent from memory after its first search
(sharelink/pages.py): the same answers as the search, and a flood of agents cannot grow the memory."""

from __future__ import annotations

from liveloop.sharelink import pages

BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.4 Mobile/15E148 Safari/604.1")
CRAWLER = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


def test_answers_are_the_search_s_and_repeated_agents_are_not_searched_again():
    pages._is_crawler.cache_clear()
    for agent in [BROWSER, CRAWLER, "WhatsApp/2.23.20.0 A", "", "Zalo android/12"] * 3:
        assert pages.is_link_preview(agent) == (bool(agent) and pages._CRAWLERS.search(agent) is not None)
    info = pages._is_crawler.cache_info()
    assert (info.misses, info.hits) == (4, 8)  # the empty agent is never searched


def test_a_flood_of_distinct_agents_keeps_the_memory_bounded():
    pages._is_crawler.cache_clear()
    for i in range(10_000):
        assert not pages.is_link_preview(f"{BROWSER} build/{i}")
    assert pages.is_link_preview(CRAWLER)
    assert pages._is_crawler.cache_info().currsize <= 4096
