import pytest

from keyless.core.settings import ConfigurationError
from keyless.core.settings.sign_in import SendSettings
from keyless.signin.redirects import RedirectNotAllowed, check_redirect, default_redirect, origin_of, parse_allowlist

ALLOWED = parse_allowlist("https://app.example.com, http://localhost:3000")


# --- origin-only entries: any path on the origin, as before ---------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com",
        "https://app.example.com/",
        "https://app.example.com/a/b?c=d&e=f@g",
        "https://APP.EXAMPLE.COM:443/x",
        "http://localhost:3000/callback",
        "https://app.example.com/deep/path?next=%2Fhome",
        "https://app.example.com/?next=../admin",  # a browser never resolves dots in a query
        "https://app.example.com/a;b=c/d:e/f!$&'()*+,=~_-.x",  # every sub-delim and unreserved mark
        "https://app.example.com/%41%7e%20?q=%2F%5C%25",  # well-formed escapes (%2F, %5C only in the query)
        "https://app.example.com/.well-known/x",  # a segment starting with a dot is not a dot segment
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
        "https://@app.example.com/",
        "javascript:alert(document.domain)",
        "JAVASCRIPT://app.example.com/%0aalert(1)",
        "https://app.example.com:444/",
        "http://app.example.com/",
        "http://localhost:3001/",
        "http://localhost/",
        "https://localhost:3000/",  # the scheme must match too
        "https:\\\\app.example.com",
        "https://app.example.com\\.evil.com/",
        "https:///path",
        "https://:443/",
        "https://app.example.com:/",
        "https://app.example.com:99999/",
        "https://app.example.com:0/",
        "https://app.example.com:abc/",
        "https://app.example.com:+443/",
        "//app.example.com/",
        "app.example.com",
        "",
        "https://app.example.com/\n",
        "https://app.example.com/\x00",
        "https://app.example.com/#fragment",
        "https://app.example.com/#",
        "https://аpp.example.com/",
        "https://app.example.com./",
        "https://app.example.com../",
        "https://app..example.com/",
        "https://-app.example.com/",
        "https://app_1.example.com/",
        "https://app.example.com%2e/",
        "https://xn--pp-8cd.example.com/",
        "https://[::1]/",
        "https://app.example.com" + "/a" * 2000,
        "https://app.example.com//evil.com/",  # a page that redirects to its own path would leave the site
    ],
)
def test_refused(uri):
    with pytest.raises(RedirectNotAllowed):
        check_redirect(uri, ALLOWED)


def test_origin_normalises_default_ports_and_case():
    assert origin_of("HTTPS://App.Example.com/x") == ("https", "app.example.com", 443)
    assert origin_of("http://LocalHost:8080") == ("http", "localhost", 8080)
    assert origin_of("http://[0:0::1]:9229/") == ("http", "[::1]", 9229)


def test_an_origin_entry_with_a_slash_is_the_same_origin_entry():
    assert parse_allowlist("https://app.example.com/") == parse_allowlist("https://app.example.com:443")


# --- entries with a path: that path and below it, on a segment boundary ---------------------------

PREFIXED = parse_allowlist("https://app.example.com/auth/callback, https://other.example.com:8443/")


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/auth/callback",
        "https://app.example.com/auth/callback/",
        "https://app.example.com/auth/callback/x",
        "https://app.example.com/auth/callback/x/y.html",
        "https://app.example.com/auth/callback?next=/home&x=1",
        "https://app.example.com/auth/callback/?x",
        "https://app.example.com/auth/callback?",
        "https://APP.Example.COM:443/auth/callback",
        "https://other.example.com:8443/anything/at/all",
    ],
)
def test_a_path_entry_allows_its_path_and_below(uri):
    assert check_redirect(uri, PREFIXED) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/auth/callbackx",
        "https://app.example.com/auth/callback-evil",
        "https://app.example.com/auth/callback.evil",
        "https://app.example.com/auth/callback;x",
        "https://app.example.com/auth/other",
        "https://app.example.com/auth",
        "https://app.example.com/auth/",
        "https://app.example.com/",
        "https://app.example.com",
        "https://app.example.com?/auth/callback",
        "https://app.example.com/x/auth/callback",
        "https://app.example.com//auth/callback",
        "https://app.example.com/AUTH/CALLBACK",  # the path is case-sensitive
        "https://app.example.com/auth/Callback",
        "https://app.example.com/auth/%63allback",  # an escape of a letter is not the letter here
        "https://app.example.com/auth%2fcallback",
        "https://app.example.com:8443/auth/callback",
        "http://app.example.com/auth/callback",
        "https://other.example.com/auth/callback",
        "https://app.example.com.evil.com/auth/callback",
        "https://app.example.com/auth/callback#x",
    ],
)
def test_a_path_entry_allows_nothing_beside_it(uri):
    with pytest.raises(RedirectNotAllowed):
        check_redirect(uri, PREFIXED)


def test_a_trailing_slash_on_a_path_entry_changes_nothing():
    assert parse_allowlist("https://app.example.com/auth/callback/") == parse_allowlist("https://app.example.com/auth/callback")


def test_the_allowlist_keeps_the_order_given_without_repeats():
    allowed = parse_allowlist("https://b.example.com/x, https://a.example.com, https://B.example.com:443/x/, http://localhost:1")
    assert [(entry.host, entry.path) for entry in allowed] == [("b.example.com", "/x"), ("a.example.com", ""), ("localhost", "")]


@pytest.mark.parametrize(
    "value, uri",
    [
        ("https://app.example.com/auth/callback/, https://b.example.com", "https://app.example.com/auth/callback"),
        ("https://App.Example.com:443", "https://app.example.com/"),
        ("https://app.example.com:8443/x", "https://app.example.com:8443/x"),
        ("http://[0::1]:9229, https://app.example.com", "http://[::1]:9229/"),
        ("", ""),
    ],
)
def test_the_default_redirect_is_the_first_entry_and_is_itself_allowed(value, uri):
    allowed = parse_allowlist(value)
    assert default_redirect(allowed) == uri
    if uri:
        assert check_redirect(uri, allowed) == uri


TRAVERSALS = [
    "/auth/callback/../admin",
    "/auth/callback/..",
    "/auth/callback/.",
    "/auth/callback/./x",
    "/auth/callback/x/../../admin",
    "/auth/callback/%2e%2e/admin",
    "/auth/callback/%2E%2E/admin",
    "/auth/callback/%2e%2E/admin",
    "/auth/callback/.%2e/admin",
    "/auth/callback/%2e./admin",
    "/auth/callback/%2e/admin",
    "/auth/callback/%2E",
    "/auth/callback/..?x=1",
    "/auth/callback/..%2fadmin",
    "/auth/callback/%2f..%2fadmin",
    "/auth/callback%2F..%2Fadmin",
    "/auth/callback/%5c..%5cadmin",
    "/auth/callback/%5C",
    "/auth/callback/x%2fy",
]


@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("allowlist", [PREFIXED, ALLOWED])
def test_dot_segments_and_encoded_slashes_are_refused_in_any_path(allowlist, path):
    with pytest.raises(RedirectNotAllowed):
        check_redirect("https://app.example.com" + path, allowlist)


# --- characters: RFC 3986 only ---------------------------------------------------------------------

NOT_RFC_3986 = [
    " ",
    "\t",
    "\n",
    "\r",
    "\x00",
    "\x1f",
    "\x7f",
    '"',
    "<",
    ">",
    "\\",
    "^",
    "`",
    "{",
    "|",
    "}",
    "\u00e9",
    "\u0430",
    "\uff0f",
    "\u2024",
    "\u200b",
    "%",
    "%g0",
    "%2",
    "%%41",
    "%2g",
]


@pytest.mark.parametrize("bad", NOT_RFC_3986)
@pytest.mark.parametrize("where", ["/auth/callback/{}", "/auth/callback?q={}", "/auth/callback/?{}=1"])
def test_characters_outside_rfc_3986_are_refused(where, bad):
    uri = "https://app.example.com" + where.format(bad)
    with pytest.raises(RedirectNotAllowed):
        check_redirect(uri, PREFIXED)
    with pytest.raises(RedirectNotAllowed):
        check_redirect(uri.replace("/auth/callback", "/x"), ALLOWED)


@pytest.mark.parametrize("uri", [None, 42, b"https://app.example.com/", ["https://app.example.com/"]])
def test_only_strings_are_redirects(uri):
    with pytest.raises(RedirectNotAllowed):
        check_redirect(uri, ALLOWED)


# --- http: only for loopback, and only through an http entry -----------------------------------------

LOOPBACK = parse_allowlist("http://localhost:9229,http://127.0.0.1:9229,http://[::1]:9229")


@pytest.mark.parametrize(
    "uri", ["http://localhost:9229/", "http://127.0.0.1:9229/x?y", "http://[::1]:9229/", "http://[0:0:0:0:0:0:0:1]:9229/"]
)
def test_http_entries_for_loopback_work(uri):
    assert check_redirect(uri, LOOPBACK) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "https://localhost:9229/",
        "http://localhost:9230/",
        "http://127.0.0.2:9229/",
        "http://127.1:9229/",
        "http://localhost.:9229/",
        "http://sub.localhost:9229/",
        "http://[::2]:9229/",
        "http://[::1%25eth0]:9229/",
    ],
)
def test_http_loopback_is_exact_too(uri):
    with pytest.raises(RedirectNotAllowed):
        check_redirect(uri, LOOPBACK)


# --- the allowlist itself -----------------------------------------------------------------------------

BAD_ENTRIES = [
    "https://app.example.com?x=1",
    "https://app.example.com/?",
    "https://app.example.com/auth?x",
    "https://app.example.com#",
    "https://app.example.com/auth#x",
    "https://user@app.example.com",
    "https://user:pw@app.example.com/auth",
    "https://app.example.com/auth/../admin",
    "https://app.example.com/./auth",
    "https://app.example.com/auth/%2e%2e",
    "https://app.example.com/auth%2fcallback",
    "https://app.example.com/auth%5Ccallback",
    "https://app.example.com/au th",
    "https://app.example.com/a^b",
    "https://app.example.com/a|b",
    "https://app.example.com/\u00e9",
    "https://ex\u0430mple.com",
    "https://app.example.com/%zz",
    "https://app.example.com.",
    "https://app..example.com",
    "https://app.example.com:0",
    "https://app.example.com:99999",
    "ftp://x.example.com",
    "app.example.com",
    "https://",
    "http://app.example.com",  # plain http only for loopback
    "http://192.168.1.10:3000",
    "http://sub.localhost:3000",
    "https://app.example.com//auth",
]


@pytest.mark.parametrize("value", BAD_ENTRIES)
def test_a_bad_allowlist_entry_is_refused(value):
    with pytest.raises(ValueError):
        parse_allowlist(value)
    with pytest.raises(ValueError):
        parse_allowlist(f"https://ok.example.com, {value}")


SIGN_IN_ENV = {
    "TABLE_NAME": "t",
    "SIGNING_KEY_SECRET_ID": "s",
    "PSEUDONYM_KEY_SECRET_ID": "p",
    "SENDER_EMAIL": "no-reply@example.com",
}


@pytest.mark.parametrize("value", BAD_ENTRIES)
def test_a_bad_allowlist_entry_is_a_configuration_error_naming_the_variable(value):
    with pytest.raises(ConfigurationError, match="ALLOWED_REDIRECT_ORIGINS"):
        SendSettings.from_env({**SIGN_IN_ENV, "ALLOWED_REDIRECT_ORIGINS": f"https://ok.example.com,{value}"})


def test_settings_accept_origins_and_path_prefixes():
    value = "https://app.example.com/auth/callback, https://www.example.com, http://localhost:9229"
    allowed = SendSettings.from_env({**SIGN_IN_ENV, "ALLOWED_REDIRECT_ORIGINS": value}).allowed_origins
    assert check_redirect("https://app.example.com/auth/callback/done", allowed)
    assert check_redirect("https://www.example.com/anything", allowed)
    assert check_redirect("http://localhost:9229/", allowed)
    with pytest.raises(RedirectNotAllowed):
        check_redirect("https://app.example.com/admin", allowed)
