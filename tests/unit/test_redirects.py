import pytest

from keyless.redirects import RedirectNotAllowed, check_redirect, origin_of, parse_allowlist

ALLOWED = parse_allowlist("https://app.example.com, http://localhost:3000")


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com",
        "https://app.example.com/",
        "https://app.example.com/a/b?c=d&e=f@g",
        "https://APP.EXAMPLE.COM:443/x",
        "http://localhost:3000/callback",
    ],
)
def test_allowed(uri):
    assert check_redirect(uri, ALLOWED) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com.evil.com/",
        "https://evil.com@app.example.com/",
        "https://user:pass@app.example.com/",
        "javascript:alert(document.domain)",
        "JAVASCRIPT://app.example.com/%0aalert(1)",
        "https://app.example.com:444/",
        "http://app.example.com/",
        "http://localhost:3001/",
        "http://localhost/",
        "https:\\\\app.example.com",
        "https://app.example.com\\.evil.com/",
        "https:///path",
        "https://:443/",
        "https://app.example.com:/",
        "https://app.example.com:99999/",
        "https://app.example.com:abc/",
        "//app.example.com/",
        "app.example.com",
        "",
        "https://app.example.com/\n",
        "https://app.example.com/\x00",
        "https://app.example.com/#fragment",
        "https://аpp.example.com/",
        "https://app.example.com./",
        "https://xn--pp-8cd.example.com/",
        "https://app.example.com" + "/a" * 2000,
    ],
)
def test_refused(uri):
    with pytest.raises(RedirectNotAllowed):
        check_redirect(uri, ALLOWED)


def test_origin_normalises_default_ports_and_case():
    assert origin_of("HTTPS://App.Example.com/x") == ("https", "app.example.com", 443)
    assert origin_of("http://h:8080") == ("http", "h", 8080)


@pytest.mark.parametrize("value", ["https://app.example.com/path", "https://app.example.com?x=1", "ftp://x.example.com"])
def test_allowlist_entries_must_be_bare_origins(value):
    with pytest.raises(ValueError):
        parse_allowlist(value)
