"""The demo catalog `manage.py seed_demo` loads: realistic names, prices and speeds.

Speeds are for the simulated engine (units per minute); a start delay keeps a fresh order
cancelable for a few minutes, so a newcomer can try `cancel`.
"""
from __future__ import annotations

from catalog.models import Platform
from catalog.service_types import ServiceType as T

# (category, platform, [(name, type, rate, min, max, flags, start delay s, speed/min, description)])
DEMO_CATALOG = [
    ("Instagram Followers", Platform.INSTAGRAM, [
        ("Instagram Followers [Fast]", T.DEFAULT, "5.00", 100, 5000, {"refill": True}, 0, 600,
         "Real-looking profiles, 30-day refill. Starts at once."),
        ("Instagram Followers [Slow, 3 min start]", T.DEFAULT, "2.40", 100, 20000, {"refill": True}, 180, 200,
         "Starts after about three minutes: cancel it before then for a full refund."),
    ]),
    ("Instagram Likes", Platform.INSTAGRAM, [
        ("Instagram Likes", T.DEFAULT, "0.90", 50, 50000, {"dripfeed": True}, 0, 1500, "Drip-feed available."),
        ("Instagram Likes Package 1000", T.PACKAGE, "1.50", 1, 1, {}, 60, 1, "One package of 1000 likes."),
        ("Instagram Custom Comments", T.CUSTOM_COMMENTS, "25.00", 5, 500, {}, 60, 20, "One comment per line."),
        ("Instagram Custom Comments Package (10)", T.CUSTOM_COMMENTS_PACKAGE, "3.00", 1, 10, {}, 60, 10,
         "Up to 10 comments, one per line, flat price."),
        ("Instagram Mentions", T.MENTIONS, "4.00", 100, 10000, {}, 60, 100, "Mentions of the given usernames."),
        ("Instagram Mentions with Hashtags", T.MENTIONS_WITH_HASHTAGS, "5.00", 100, 10000, {}, 60, 100, ""),
        ("Instagram Mentions Custom List", T.MENTIONS_CUSTOM_LIST, "6.00", 10, 1000, {}, 60, 50,
         "One username per line."),
        ("Instagram Mentions Hashtag", T.MENTIONS_HASHTAG, "4.50", 100, 10000, {}, 60, 100, ""),
        ("Instagram Mentions User Followers", T.MENTIONS_USER_FOLLOWERS, "4.50", 100, 10000, {}, 60, 100, ""),
        ("Instagram Mentions Media Likers", T.MENTIONS_MEDIA_LIKERS, "4.50", 100, 10000, {}, 60, 100, ""),
        ("Instagram Comment Likes", T.COMMENT_LIKES, "3.20", 20, 5000, {}, 60, 100, ""),
    ]),
    ("TikTok Views", Platform.TIKTOK, [
        ("TikTok Views [Instant]", T.DEFAULT, "0.0125", 1000, 10000000, {"dripfeed": True}, 0, 5000,
         "Fast views; very low price per 1000."),
        ("TikTok Followers", T.DEFAULT, "7.50", 100, 10000, {"refill": True}, 120, 150, "Starts within minutes."),
    ]),
    ("YouTube", Platform.YOUTUBE, [
        ("YouTube Views [Retention]", T.DEFAULT, "1.80", 500, 1000000, {}, 0, 1000, ""),
        ("YouTube Subscribers", T.DEFAULT, "32.00", 50, 5000, {"refill": True}, 300, 30, "Slow and steady."),
    ]),
    ("Twitter / X", Platform.TWITTER, [
        ("X Poll Votes", T.POLL, "2.00", 100, 10000, {}, 60, 500, "Votes for the given answer number."),
        ("X Followers", T.DEFAULT, "9.90", 100, 5000, {}, 0, 300, ""),
    ]),
    ("Website Traffic", Platform.WEBSITE, [
        ("Google Keyword Traffic (SEO)", T.SEO, "1.20", 1000, 100000, {}, 60, 1000, "Visitors from the given keywords."),
    ]),
]
