import pytest

from orders.links import link_normalize, link_validate
from smmpanel.errors import InvalidLink


@pytest.mark.parametrize(
    "link",
    ["https://instagram.com/p/abc", "http://example.com", "HTTPS://Example.com/Path?q=1#x", "@user.name_1", "user-2"],
)
def test_accepts_http_urls_and_handles(link):
    assert link_validate(link) == link


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)", "ftp://example.com/x", "https://exa mple.com", "https://example.com/\x00",
        "https://", "http:///path", "example.com/path", "https://example.com:99999/", "x" * 2001,
        "https://example.com/" + "a" * 2000, "@", "",
    ],
)
def test_refuses_everything_else(link):
    with pytest.raises(InvalidLink):
        link_validate(link)


def test_normalised_form_ignores_case_of_host_www_slash_and_fragment():
    variants = [
        "https://www.Instagram.com/someone/",
        "HTTPS://instagram.com/someone",
        "https://INSTAGRAM.COM/someone#reel",
    ]
    assert {link_normalize(v) for v in variants} == {"https://instagram.com/someone"}
    assert link_normalize("https://instagram.com/Someone") != link_normalize("https://instagram.com/someone")
    assert link_normalize("@Some.One") == link_normalize("some.one")
