"""Who opens a share link: people in the in-app browsers of our markets' apps, or the apps' link-preview
crawlers. Every string here was sent by the real app or crawler: most come from the fixtures of
matomo-org/device-detector (Tests/fixtures), the others from the vendors' documentation or from
logs of real visits (LINE's from our issue, Telegram's in-app browser from a server's session log).
"""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.helpers import campaign, during, event, invite, post_ok, send

PEOPLE = {
    "LINE, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 Safari Line/13.20.0",
    "LINE, Android": "Mozilla/5.0 (Linux; Android 9; iData 50 Build/PPR1.180610.011; wv) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Version/4.0 Chrome/79.0.3945.116 Mobile Safari/537.36 Line/12.10.1/IAB",
    "WhatsApp opens the phone's browser": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
                                          "Chrome/124.0 Mobile Safari/537.36",
    "Facebook, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 13_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                     "Mobile/15E148 [FBAN/FBIOS;FBAV/239.0.0.52.149;FBBV/172924969;FBDV/iPhone12,3;FBMD/iPhone;"
                     "FBSN/iOS;FBSV/13.0;FBSS/3;FBID/phone;FBLC/de_DE;FBOP/5;FBRV/174725516;FBCR/Telekom.de]",
    "Facebook, Android": "Mozilla/5.0 (Linux; Android 12; motorola edge plus (2022) Build/S3SHS32.12-41-4-4; wv) "
                         "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/113.0.5672.131 Mobile "
                         "Safari/537.36 [FB_IAB/FB4A;FBAV/415.0.0.34.107;]",
    "Messenger, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) AppleWebKit/603.3.8 "
                      "(KHTML, like Gecko) Mobile/14G60 [FBAN/MessengerForiOS;FBAV/132.0.0.41.90;FBBV/69171754;"
                      "FBDV/iPhone8,4;FBMD/iPhone;FBSN/iOS;FBSV/10.3.3;FBSS/2;FBCR/Koodo;FBID/phone;FBLC/en_US;FBOP/5;FBRV/0]",
    "Messenger, Android": "Mozilla/5.0 (Linux; Android 10; moto g(7) play Build/QPYS30.52-22-9; wv) AppleWebKit/537.36 "
                          "(KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.110 Mobile Safari/537.36 "
                          "[FB_IAB/Orca-Android;FBAV/288.0.0.15.118;]",
    "Instagram, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                      "Mobile/20G75 Instagram 296.0.0.18.107 (iPhone14,8; iOS 16_6; en_US; en; scale=3.00; "
                      "1284x2778; 505423516)",
    "Instagram, Android": "Mozilla/5.0 (Linux; Android 14; SM-S921N Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
                          "(KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.119 Mobile Safari/537.36 Instagram "
                          "324.0.0.27.50 Android (34/14; 420dpi; 1080x2127; samsung; SM-S921N; e1s; s5e9945; ko_KR; "
                          "581020724)",
    "Telegram, Android": "Mozilla/5.0 (Linux; Android 14; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/131.0.6778.135 Mobile Safari/537.36 Telegram-Android/11.5.5 (Samsung SM-G991U1; "
                         "Android 14; SDK 34; HIGH)",
    "TikTok, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                   "Mobile/15E148 BytedanceWebview/d8a21c6 trill_34.9.0 JsSdk/2.0 NetType/4G Channel/App Store "
                   "ByteLocale/en Region/MY FalconTag/31CFA6E0-CAE5-4ECF-A13A-ADFCAFC2428F",
    "TikTok, Android": "Mozilla/5.0 (Linux; Android 11; 6025H_EEA Build/RP1A.200720.011; wv) AppleWebKit/537.36 "
                       "(KHTML, like Gecko) Version/4.0 Chrome/91.0.4472.120 Mobile Safari/537.36 trill_2022003030 "
                       "JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly app_version/20.7.5 ByteLocale/en "
                       "ByteFullLocale/en Region/US",
    "Zalo, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 15_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 Zalo iOS/448 ZaloTheme/light ZaloLanguage/en",
    "Zalo, Android": "Mozilla/5.0 (Linux; Android 10) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
                     "Chrome/97.0.4668.2 Mobile Safari/537.36 Zalo android/12100580",
    "KakaoTalk, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 13_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                      "Mobile/15E148 KAKAOTALK 8.6.3",
    "KakaoTalk, Android": "Mozilla/5.0 (Linux; Android 8.0.0; SM-G950N Build/R16NW; wv) AppleWebKit/537.36 "
                          "(KHTML, like Gecko) Version/4.0 Chrome/71.0.3578.99 Mobile Safari/537.36;KAKAOTALK 1908210",
    "WeChat, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 7_0_6 like Mac OS X) AppleWebKit/537.51.1 (KHTML, like Gecko) "
                   "Mobile/11B651 MicroMessenger/5.2",
    "WeChat, Android": "Mozilla/5.0 (Linux; Android 12; PCE-W40 Build/HUAWEIPCE-W40; wv) AppleWebKit/537.36 "
                       "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Safari/537.36 XWEB/1160117 MMWEBSDK/20240404 "
                       "MMWEBID/998 MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64 Weixin Android Tablet "
                       "NetType/WIFI Language/zh_CN ABI/arm64",
    "Snapchat, iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 13_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                     "Version/13.0.4 Mobile/15E148 Snapchat/11.9.0.45 (like Safari/604.1)",
    "Viber, Android": "Mozilla/5.0 (Linux; Android 7.1.2; G011A Build/N2G48H; wv) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Version/4.0 Chrome/66.0.3359.158 Safari/537.36 Viber/11.9.5.8",
}

CRAWLERS = {
    "WhatsApp, Android": "WhatsApp/2.18.46 Android/6.0.1 Device/Xiaomi-Redmi_3S",
    "WhatsApp": "WhatsApp/2.23.20.0 A",
    "Facebook, Instagram, Messenger": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Facebot": "Facebot",
    "iMessage": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
                "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
    "Meta": "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
    "LINE": "facebookexternalhit/1.1;line-poker/1.0",
    "LINE's spider": "Mozilla/5.0 (compatible; Linespider/1.1; https://lin.ee/4dwXkTH)",
    "Telegram": "TelegramBot (like TwitterBot)",
    "Telegram, iOS app": "Telegram/29835 CFNetwork/1333.0.4 Darwin/21.5.0",
    "X": "Twitterbot/1.0",
    "Slack": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Discord": "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "LinkedIn": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Jakarta Commons-HttpClient/3.1 +http://www.linkedin.com)",
    "KakaoTalk": "facebookexternalhit/1.1; kakaotalk-scrap/1.0; +https://devtalk.kakao.com/t/scrap/33984",
    "Zalo, iOS app": "Zalo/205.0 CFNetwork/889.9 Darwin/17.2.0",
    "WeChat, iOS app": "WeChat/7.0.12.33 CFNetwork/1125.2 Darwin/19.4.0",
    "TikTok": "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
              "(compatible; TikTokSpider; ttspider-feedback@tiktok.com)",
    "ByteDance": "Mozilla/5.0 (Linux; Android 6.0; Nexus 5 Build/MRA58N) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/51.0.5668.1446 Mobile Safari/537.36; Bytespider;bytespider@bytedance.com",
    "Snapchat": "Snap URL Preview Service; bot; https://developer.snapchat.com/robots",
    "Viber": "ViberUrlDownloader",
    "Pinterest": "Pinterest/0.2 (+http://www.pinterest.com/)",
    "Skype, Teams": "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
    "Messenger, Android app": "Dalvik/2.1.0 (Linux; U; Android 15; Pixel 8 Pro Build/AP3A.241005.015) "
                              "[FBAN/Orca-Android;FBAV/482.0.0.71.108;FBPN/com.facebook.orca;FBLC/de_DE;]",
}


def clicks(client, cid: str) -> int:
    """The report's clicks once at least one is counted: a click is logged just after its redirect leaves."""
    deadline = time.monotonic() + 10
    while True:
        counted = client.get(f"/v1/campaigns/{cid}/report").json()["funnel"]["clicks"]
        if counted or time.monotonic() > deadline:
            return counted
        time.sleep(0.05)


@pytest.fixture
def share_code(client, cid) -> str:
    post_ok(client, "/v1/campaigns", campaign(cid))
    return invite(client, cid, "nok", channel="line")


@pytest.mark.parametrize("app", sorted(PEOPLE))
def test_a_person_in_an_in_app_browser_goes_to_the_shop_and_the_click_counts(server, client, cid, share_code, app):
    with server.client(None) as anon:
        response = anon.get(f"/s/{share_code}", headers={"user-agent": PEOPLE[app]})
    assert response.status_code == 302, f"{app} was taken for a link-preview crawler"
    assert parse_qs(urlsplit(response.headers["location"]).query)["ll_ref"] == [share_code]
    assert clicks(client, cid) == 1


@pytest.mark.parametrize("bot", sorted(CRAWLERS))
def test_a_preview_crawler_gets_a_card_with_a_link_on_and_is_not_counted(server, client, cid, share_code, bot):
    with server.client(None) as anon:
        response = anon.get(f"/s/{share_code}", headers={"user-agent": CRAWLERS[bot], "accept-language": "th"})
    # A click the shop sends answers once it is applied, after anything the share link logged before it.
    shop_click = event("shop-click", "click", cid, "friend", during(1), ref=share_code)
    assert send(client, [shop_click])["accepted"] == 1
    assert response.status_code == 200, f"{bot} was taken for a person"
    assert "og:title" in response.text
    # A person taken for a crawler is never stranded: the card links on to the shop, with the code.
    [(href, text)] = re.findall(r'<a href="([^"]+)">([^<]+)</a>', response.text)
    landing = urlsplit(html.unescape(href))
    assert landing.netloc == "shop.example.com" and parse_qs(landing.query)["ll_ref"] == [share_code]
    assert text == "ไปที่ไลฟ์"  # in the viewer's language
    assert clicks(client, cid) == 1  # the shop's, not the crawler's
