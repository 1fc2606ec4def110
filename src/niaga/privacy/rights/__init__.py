"""Fulfilling data-subject rights (UU PDP Pasal 6-13; policies.md R1-R6, H2): services the privacy-request
flow calls, and the public download of a person's access package."""

from niaga.privacy.rights.actions import (
    CORRECTABLE,
    CorrectionRefused,
    NotAChild,
    apply_correction,
    delete_person,
    guardian_removal,
    lift_restriction,
    object_to_automated,
    object_to_marketing,
    restrict_person,
    withdraw_all_consents,
)
from niaga.privacy.rights.models import PackageDownload
from niaga.privacy.rights.package import (
    download_path,
    open_download,
    prepare_access_package,
    purge_expired_packages,
)

__all__ = [
    "CORRECTABLE",
    "CorrectionRefused",
    "NotAChild",
    "PackageDownload",
    "apply_correction",
    "delete_person",
    "download_path",
    "guardian_removal",
    "lift_restriction",
    "object_to_automated",
    "object_to_marketing",
    "open_download",
    "prepare_access_package",
    "purge_expired_packages",
    "restrict_person",
    "withdraw_all_consents",
]
