"""What each function of template.yaml reads: its settings classes (tests/test_template.py checks the
template against them). No function loads it: each imports its own classes."""

from __future__ import annotations

from keyless.core.settings.attach import AttachSettings
from keyless.core.settings.define import DefineSettings
from keyless.core.settings.email_events import EmailEventsSettings
from keyless.core.settings.passkeys import AccountSettings, PasskeySettings
from keyless.core.settings.profiles import ClaimsSettings, ProfileSettings
from keyless.core.settings.rotation import RotationSettings
from keyless.core.settings.sign_in import SendSettings, SignInSettings
from keyless.core.settings.sign_up import AddressRuleSettings, SignUpSettings

FUNCTIONS: dict[str, tuple[type, ...]] = {
    "DefineAuthChallengeFunction": (DefineSettings,),
    "CreateAuthChallengeFunction": (SendSettings, AddressRuleSettings, PasskeySettings),
    "VerifyAuthChallengeFunction": (SignInSettings, PasskeySettings),
    "PreSignUpFunction": (SignUpSettings,),
    "PostConfirmationFunction": (ProfileSettings,),
    "PreTokenGenerationFunction": (ProfileSettings, ClaimsSettings),
    "AttachTriggersFunction": (AttachSettings,),
    "EmailEventsFunction": (EmailEventsSettings,),
    "RotateSigningKeyFunction": (RotationSettings,),
    "ManagementApiFunction": (AccountSettings,),
}
OPERATOR_VARIABLES = ("EMAIL_TEMPLATES_DIR",)  # CreateAuthChallenge: a folder of the operator's own templates
