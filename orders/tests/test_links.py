from decimal import Decimal

import pytest

from catalog.tests.factories import ServiceFactory
from orders.links import link_normalize, link_validate
from orders.models import Order
from orders.tests.api_helpers import placed, refused
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


def test_tracking_parameters_are_dropped_from_the_normalised_form():
    post = "https://instagram.com/p/abc"
    shared = [
        "https://www.instagram.com/p/abc/?utm_source=ig_web_copy_link&igshid=MzRlODBiNWFlZA==",
        "https://instagram.com/p/abc?igsh=MWQ1ZGUxMzBkMA%3D%3D",
        "https://instagram.com/p/abc/?UTM_Medium=x&fbclid=IwAR0&gclid=1#reel",
        "https://instagram.com/p/abc?&si=abc&",
    ]
    assert {link_normalize(link) for link in shared} == {post}
    # parameters that pick the content stay, with their text and order
    assert link_normalize("https://youtube.com/watch?v=dQw4&si=xyz&feature=share") == "https://youtube.com/watch?v=dQw4"
    assert link_normalize("https://youtube.com/watch?feature=youtu.be&v=dQw4") == "https://youtube.com/watch?v=dQw4"
    assert link_normalize("https://youtube.com/watch?v=dQw4&feature=related") == (
        "https://youtube.com/watch?v=dQw4&feature=related")
    assert link_normalize("https://tiktok.com/@a/video/1?is_from_webapp=1&sender_device=pc&lang=en") == (
        "https://tiktok.com/@a/video/1?lang=en")
    assert link_normalize("https://example.com/p?id=2&b=%20x&utm_x=1") == "https://example.com/p?id=2&b=%20x"
    assert link_normalize("https://example.com/p?id=2") != link_normalize("https://example.com/p?id=3")
    # a name that merely starts like a tracking one is kept
    assert link_normalize("https://example.com/p?sid=1&utmost=2") == "https://example.com/p?sid=1&utmost=2"


def test_refuses_lone_surrogates_and_control_characters_anywhere():
    for link in ("https://example.com/\ud800", "https://example.com/\x85", "https://example.com/\x9f", "@a\ud800"):
        with pytest.raises(InvalidLink):
            link_validate(link)


def test_the_same_post_with_tracking_parameters_is_one_active_order(api, reseller):
    service = ServiceFactory(rate=Decimal("1"))
    first = placed(api, service=service.pk, link="https://instagram.com/p/abc", quantity="100")
    for shared in ("https://instagram.com/p/abc?utm_source=x&igshid=y", "https://www.instagram.com/p/abc/?igsh=z"):
        refused(api, "You have active order with this link. Please wait until order being completed.", "add",
                service=service.pk, link=shared, quantity="100")
    # a parameter that picks other content is another link; the order keeps the link as sent
    other = placed(api, service=service.pk, link="https://instagram.com/p/abc?img_index=2&utm_source=x", quantity="100")
    assert (first.link_normalized, other.link_normalized) == (
        "https://instagram.com/p/abc", "https://instagram.com/p/abc?img_index=2")
    assert Order.objects.get(pk=other.pk).link == "https://instagram.com/p/abc?img_index=2&utm_source=x"
