from pathlib import Path

import pytest

from keyless.aws.mailer import Mailer, Templates, UndeliverableAddress
from keyless.aws.runtime import SignInRuntime
from keyless.core import addresses
from keyless.core.settings.sign_in import SendSettings


@pytest.mark.parametrize(
    "address, masked",
    [
        ("jane.doe@example.com", "j***@e***.com"),
        ("J@EXAMPLE.CO.UK", "j***@e***.uk"),
        ("no-at-sign", "***"),
        ("@x.com", "***"),
        ("a@localhost", "a***@***"),
    ],
)
def test_mask(address, masked):
    assert addresses.mask(address) == masked


def test_pseudonyms_are_keyed_stable_and_not_the_address():
    from keyless.signin import pseudonyms

    key, other = b"k" * 32, b"o" * 32
    ref = pseudonyms.recipient(key, "Jane@Example.com")
    assert ref == pseudonyms.recipient(key, " jane@example.com ")  # the send's comparison rules
    assert ref != pseudonyms.recipient(other, "jane@example.com")  # a guess cannot be checked without the key
    assert "jane" not in ref and len(ref) == 32
    import hashlib

    assert ref not in hashlib.sha256(b"jane@example.com").hexdigest()


@pytest.mark.parametrize(
    "a, b",
    [
        ("name+1@example.com", "Name+2@Example.com"),
        ("name@example.com", "name+x@example.com"),
        ("j.o.hn@gmail.com", "john+spam@googlemail.com"),
    ],
)
def test_one_mailbox_whatever_the_alias(a, b):
    from keyless.signin import pseudonyms

    assert pseudonyms.mailbox(b"k" * 32, a) == pseudonyms.mailbox(b"k" * 32, b)


@pytest.mark.parametrize("a, b", [("john@example.com", "j.ohn@example.com"), ("a@example.com", "a@example.org")])
def test_different_mailboxes_stay_different(a, b):
    from keyless.signin import pseudonyms

    assert pseudonyms.mailbox(b"k" * 32, a) != pseudonyms.mailbox(b"k" * 32, b)


@pytest.mark.parametrize(
    "address, ok",
    [
        ("jane@example.com", True),
        ("jane+tag@example.co.uk", True),
        ("jane@example.com\r\nBcc: x@evil.com", False),
        ("Jane <jane@example.com>", False),
        ("a@b.com,c@d.com", False),
        ("jané@example.com", False),
        ("jane@", False),
    ],
)
def test_is_deliverable(address, ok):
    assert addresses.is_deliverable(address) is ok


LABEL_63 = "b" * 63
DELIVERABLE = [
    "jane.doe@example.com",
    "Jane.Doe@Example.COM",  # case is not the deliverability check's business (PreSignUp lower-cases)
    "o'brien@example.ie",
    "a_b-c@sub-domain.example.com",
    "#$&'*+-/?^_`{|}~=@example.com",  # every atext character except ! and %
    "prvs=1234=bounce@example.com",  # "=" or "?" alone is not an encoded word
    "leser@xn--bcher-kva.de",  # an internationalised domain in its ASCII form
    "a@xn--p1ai.xn--p1ai",  # ... top-level label included
    "a@1.example",  # a digit-only label is fine below the top level
    "a@example.c0m",
    "a" * 64 + "@example.com",  # the longest local part
    f"a@{LABEL_63}.com",  # the longest label
    "a" * 64 + "@" + ".".join([LABEL_63, LABEL_63, "b" * 57, "com"]),  # 254 characters, the longest address
]

UNDELIVERABLE = [
    # domains with empty, hyphen-edged, over-long or odd labels
    "a@.corp.com",
    "a@x..corp.com",
    "a@example..com",
    "a@example.com.",
    "a@.example.com.",
    "a@-example.com",
    "a@example-.com",
    "a@example.-com",
    "a@exa_mple.com",
    "a@example.com-",
    f"a@{'b' * 64}.com",
    "a@example.c",
    # single-label, IP-literal and numeric domains: not a public mail domain
    "a@localhost",
    "a@com",
    "a@[127.0.0.1]",
    "a@[IPv6:::1]",
    "a@127.0.0.1",
    "a@example.123",
    # local parts that are not a dot-atom
    ".a@example.com",
    "a.@example.com",
    "a..b@example.com",
    "a" * 65 + "@example.com",
    '"a b"@example.com',
    '"a"@example.com',
    '"a@b"@example.com',
    "a(comment)@example.com",
    "(c)a@example.com",
    "a@example.com(comment)",
    "a@(c)example.com",
    "a\\b@example.com",
    "a[b]@example.com",
    "a;b@example.com",
    "a:b@example.com",
    "a,b@example.com",
    # RFC 2047 encoded words, which mail software decodes into another address
    "=?utf-8?q?alice?=@example.com",
    "=?utf-8?b?YWxpY2U=?=@example.com",
    "x=?y@example.com",
    "x?=y@example.com",
    # source routing some MTAs still honour: mail "for" corp.com relayed to another domain
    "victim%evil.com@corp.com",
    "evil.com!victim@corp.com",
    "a%b@example.com",
    "a!b@example.com",
    # more than one address, a display name, angle brackets
    "a@b@example.com",
    "Jane <jane@example.com>",
    "<jane@example.com>",
    "jane@example.com>",
    "a@b.com,c@d.com",
    # header injection, controls and whitespace anywhere
    "a@example.com\r\nBcc: x@evil.com",
    "a@example.com\n",
    "a\n@example.com",
    "a@example.com\r",
    "a\x00@example.com",
    "a@example.com\x00",
    "a@exam\x00ple.com",
    "\ta@example.com",
    " a@example.com",
    "a@example.com ",
    "a @example.com",
    "a@exam ple.com",
    "a\x7f@example.com",
    # non-ASCII: Unicode dots, look-alikes, accents
    "a@example\u3002com",
    "a@example\uff0ecom",
    "a@example\uff61com",
    "jan\u00e9@example.com",
    "a@ex\u0430mple.com",
    "a@example.com\u200b",
    # too long overall (255 characters), empty parts
    "a" * 64 + "@" + ".".join([LABEL_63, LABEL_63, "b" * 58, "com"]),
    "",
    "@",
    "a",
    "a@",
    "@example.com",
]


@pytest.mark.parametrize("address", DELIVERABLE)
def test_plain_dot_atom_addresses_are_deliverable(address):
    assert addresses.is_deliverable(address) is True


@pytest.mark.parametrize("address", UNDELIVERABLE)
def test_what_mail_software_would_rewrite_or_misroute_is_not_deliverable(address):
    assert addresses.is_deliverable(address) is False


@pytest.mark.parametrize("value", [None, 5, b"a@example.com", ["a@example.com"]])
def test_only_strings_are_deliverable(value):
    assert addresses.is_deliverable(value) is False


class RecordingSes:
    def __init__(self):
        self.requests = []

    def send_email(self, **request):
        self.requests.append(request)


def test_values_are_escaped_in_html_and_subject_is_one_line(tmp_path: Path):
    ses = RecordingSes()
    mailer = Mailer(ses, "no-reply@example.com", "Evil <script>alert(1)</script>\r\nBcc: x@evil.com")
    mailer.send("magic_link", "jane@example.com", 900, link='https://app.example.com/?a=1&b="2"#tok')
    content = ses.requests[0]["Content"]["Simple"]
    assert "\n" not in content["Subject"]["Data"] and "\r" not in content["Subject"]["Data"]
    html_body = content["Body"]["Html"]["Data"]
    assert "<script>" not in html_body and "&lt;script&gt;" in html_body
    assert 'href="https://app.example.com/?a=1&amp;b=&quot;2&quot;#tok"' in html_body
    assert 'https://app.example.com/?a=1&b="2"#tok' in content["Body"]["Text"]["Data"]
    assert ses.requests[0]["Destination"] == {"ToAddresses": ["jane@example.com"]}
    assert "15 minutes" in content["Body"]["Text"]["Data"]


def test_code_email(tmp_path):
    ses = RecordingSes()
    Mailer(ses, "no-reply@example.com", "Acme", configuration_set="tracking").send(
        "email_otp_only", "jane@example.com", 600, code="012345"
    )
    request = ses.requests[0]
    assert request["ConfigurationSetName"] == "tracking"
    assert "012345" in request["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert "012345" not in request["Content"]["Simple"]["Subject"]["Data"]


def test_refuses_header_injection_in_recipient():
    with pytest.raises(UndeliverableAddress):
        Mailer(RecordingSes(), "no-reply@example.com", "Acme").send(
            "email_otp_only", "a@example.com\nBcc: b@evil.com", 600, code="123456"
        )


@pytest.mark.parametrize(
    "address", ["=?utf-8?q?alice?=@example.com", "a@.example.com", "victim%evil.com@example.com", "a@example.com\n"]
)
def test_the_mailer_sends_nothing_to_an_address_mail_software_would_rewrite(address):
    ses = RecordingSes()
    mailer = Mailer(ses, "no-reply@example.com", "Acme")
    with pytest.raises(UndeliverableAddress):
        mailer.send("magic_link", address, 900, link="https://app.example.com/#tok")
    with pytest.raises(UndeliverableAddress):
        mailer.send("email_otp_only", address, 600, code="123456")
    assert ses.requests == []


PLACEHOLDERS = {"magic_link": "$link", "email_otp": "$code $link", "email_otp_only": "$code"}


def mailer_of(ses, env: dict) -> Mailer:
    """The mailer CreateAuthChallenge's runtime builds from these settings, sending through `ses`."""
    settings = SendSettings.from_env({"TABLE_NAME": "t", "SIGNING_KEY_SECRET_ID": "s", "PSEUDONYM_KEY_SECRET_ID": "p", "SENDER_EMAIL": "no-reply@example.com",
                                      "APP_NAME": "Acme", "ALLOWED_REDIRECT_ORIGINS": "https://app.example.com", **env})  # fmt: skip

    class Session:
        def client(self, service, config=None):
            assert service == "sesv2"
            return ses

    return SignInRuntime(settings=settings, session=Session()).mailer


def test_operator_templates(tmp_path):
    for kind, values in PLACEHOLDERS.items():
        (tmp_path / f"{kind}.subject.txt").write_text("Hi from $app_name")
        (tmp_path / f"{kind}.txt").write_text(f"text $expires_in_minutes {values}")
        (tmp_path / f"{kind}.html").write_text(f"<b>{values}</b>")
    ses = RecordingSes()
    mailer = mailer_of(ses, {"EMAIL_TEMPLATES_DIR": str(tmp_path)})  # as CreateAuthChallenge builds it
    mailer.send("email_otp_only", "jane@example.com", 120, code="999999")
    mailer.send("email_otp", "jane@example.com", 120, code="999999", link="https://app.example.com/#t<")
    first, second = (request["Content"]["Simple"] for request in ses.requests)
    assert first["Subject"]["Data"] == "Hi from Acme"
    assert first["Body"]["Text"]["Data"] == "text 2 999999"
    assert first["Body"]["Html"]["Data"] == "<b>999999</b>"
    assert second["Body"]["Text"]["Data"] == "text 2 999999 https://app.example.com/#t<"
    assert second["Body"]["Html"]["Data"] == "<b>999999 https://app.example.com/#t&lt;</b>"


def test_a_template_with_an_unknown_placeholder_fails_loudly(tmp_path):
    for kind in PLACEHOLDERS:
        for part in ("subject.txt", "txt", "html"):
            (tmp_path / f"{kind}.{part}").write_text("$typo")
    with pytest.raises(KeyError):
        Templates(tmp_path).render("email_otp", app_name="a", code="1", expires_in_minutes="1")


def test_an_email_whose_link_opens_another_page_also_opens_the_first_allowed_one():
    ses = RecordingSes()
    mailer = Mailer(ses, "no-reply@example.com", "Acme")
    mailer.send(
        "magic_link", "jane@example.com", 900, default_link="https://app.example.com/#tok<", link="https://app.example.com/x#tok"
    )
    mailer.send("magic_link", "jane@example.com", 900, link="https://app.example.com/#tok")
    with_fallback, without = (request["Content"]["Simple"]["Body"] for request in ses.requests)
    assert "https://app.example.com/#tok<" in with_fallback["Text"]["Data"]
    assert 'href="https://app.example.com/#tok&lt;"' in with_fallback["Html"]["Data"]  # escaped like every value
    assert "instead" not in without["Text"]["Data"] and "instead" not in without["Html"]["Data"]


def test_operator_templates_without_a_fallback_part_send_no_second_link(tmp_path):
    for kind, values in PLACEHOLDERS.items():
        for part, text in (("subject.txt", "Hi"), ("txt", f"{values} $fallback"), ("html", f"{values} $fallback")):
            (tmp_path / f"{kind}.{part}").write_text(text)
    ses = RecordingSes()
    mailer_of(ses, {"EMAIL_TEMPLATES_DIR": str(tmp_path)}).send(
        "magic_link", "jane@example.com", 900, default_link="https://a.example/#t", link="https://a.example/x#t"
    )
    assert ses.requests[0]["Content"]["Simple"]["Body"]["Text"]["Data"] == "https://a.example/x#t "
