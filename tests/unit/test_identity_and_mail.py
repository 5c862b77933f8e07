from pathlib import Path

import pytest

from keyless import identity
from keyless.mailer import Mailer, Templates, UndeliverableAddress


@pytest.mark.parametrize(
    "address, masked",
    [("jane.doe@example.com", "j***@e***.com"), ("J@EXAMPLE.CO.UK", "j***@e***.uk"), ("no-at-sign", "***"), ("@x.com", "***"), ("a@localhost", "a***@***")],
)
def test_mask(address, masked):
    assert identity.mask(address) == masked


def test_user_ref_is_stable_case_insensitive_and_not_the_address():
    ref = identity.user_ref("Jane@Example.com")
    assert ref == identity.user_ref(" jane@example.com ")
    assert "jane" not in ref and len(ref) == 32


@pytest.mark.parametrize(
    "address, ok",
    [("jane@example.com", True), ("jane+tag@example.co.uk", True), ("jane@example.com\r\nBcc: x@evil.com", False),
     ("Jane <jane@example.com>", False), ("a@b.com,c@d.com", False), ("jané@example.com", False), ("jane@", False)],
)
def test_is_deliverable(address, ok):
    assert identity.is_deliverable(address) is ok


class RecordingSes:
    def __init__(self):
        self.requests = []

    def send_email(self, **request):
        self.requests.append(request)


def test_values_are_escaped_in_html_and_subject_is_one_line(tmp_path: Path):
    ses = RecordingSes()
    mailer = Mailer(ses, "no-reply@example.com", 'Evil <script>alert(1)</script>\r\nBcc: x@evil.com')
    mailer.send_link("jane@example.com", "https://app.example.com/?a=1&b=\"2\"#tok", 900)
    content = ses.requests[0]["Content"]["Simple"]
    assert "\n" not in content["Subject"]["Data"] and "\r" not in content["Subject"]["Data"]
    html_body = content["Body"]["Html"]["Data"]
    assert "<script>" not in html_body and "&lt;script&gt;" in html_body
    assert 'href="https://app.example.com/?a=1&amp;b=&quot;2&quot;#tok"' in html_body
    assert "https://app.example.com/?a=1&b=\"2\"#tok" in content["Body"]["Text"]["Data"]
    assert ses.requests[0]["Destination"] == {"ToAddresses": ["jane@example.com"]}
    assert "15 minutes" in content["Body"]["Text"]["Data"]


def test_code_email(tmp_path):
    ses = RecordingSes()
    Mailer(ses, "no-reply@example.com", "Acme", configuration_set="tracking").send_code("jane@example.com", "012345", 600)
    request = ses.requests[0]
    assert request["ConfigurationSetName"] == "tracking"
    assert "012345" in request["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert "012345" not in request["Content"]["Simple"]["Subject"]["Data"]


def test_refuses_header_injection_in_recipient():
    with pytest.raises(UndeliverableAddress):
        Mailer(RecordingSes(), "no-reply@example.com", "Acme").send_code("a@example.com\nBcc: b@evil.com", "123456", 600)


def test_operator_templates(tmp_path, monkeypatch):
    for kind in ("magic_link", "email_otp"):
        (tmp_path / f"{kind}.subject.txt").write_text("Hi from $app_name")
        (tmp_path / f"{kind}.txt").write_text("text $expires_in_minutes " + ("$link" if kind == "magic_link" else "$code"))
        (tmp_path / f"{kind}.html").write_text("<b>" + ("$link" if kind == "magic_link" else "$code") + "</b>")
    monkeypatch.setenv("EMAIL_TEMPLATES_DIR", str(tmp_path))
    ses = RecordingSes()
    Mailer(ses, "no-reply@example.com", "Acme").send_code("jane@example.com", "999999", 120)
    simple = ses.requests[0]["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Hi from Acme"
    assert simple["Body"]["Text"]["Data"] == "text 2 999999"
    assert simple["Body"]["Html"]["Data"] == "<b>999999</b>"


def test_a_template_with_an_unknown_placeholder_fails_loudly(tmp_path):
    for kind in ("magic_link", "email_otp"):
        for part in ("subject.txt", "txt", "html"):
            (tmp_path / f"{kind}.{part}").write_text("$typo")
    with pytest.raises(KeyError):
        Templates(tmp_path).render("email_otp", app_name="a", code="1", expires_in_minutes="1")
