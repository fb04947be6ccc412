from rest_framework.permissions import SAFE_METHODS, BasePermission

from shelters.models import User


class StaffWritesOthersRead(BasePermission):
    """Reference data (sites, sources): everyone authenticated reads, staff write."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        return bool(request.user.is_staff)


class CanSubmit(BasePermission):
    """Submitting and changing evidence needs an organisation and an editor role."""

    message = "Your account cannot submit records: it needs an organisation and the editor or manager role."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        return bool(user.is_staff or (user.organization_id and user.role in (User.Role.EDITOR, User.Role.MANAGER)))
