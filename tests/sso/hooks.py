"""A validation hook as an operator would write one (used by test_signup)."""

from admit.core.errors import Code


def no_example_org(request):
    if request.email.endswith("@example.org"):
        return [Code.EMAIL_INVALID]
    return []
