from django.conf import settings

from shelters.models import Organization, User


def default_organization() -> Organization:
    """The organisation that owns what local staff and the operator commands submit."""
    organization, _ = Organization.objects.get_or_create(
        slug=settings.SHELTERS_DEFAULT_ORGANIZATION,
        defaults={"name": "Local staff", "kind": Organization.Kind.OTHER},
    )
    return organization


def organization_for(user: User | None) -> Organization:
    if user is not None and user.is_authenticated and user.organization_id:
        return user.organization
    return default_organization()


def user_language_set(*, user: User, language: str) -> User:
    """Remember the language the admin should speak to this person."""
    user.language = language
    user.full_clean(validate_unique=False, validate_constraints=False)
    user.save(update_fields=["language"])
    return user
