import pytest

from sanctions import ftm_mapping

# The FtM export and import need followthemoney (requirements-ftm.txt), which `make
# install` adds where PyICU builds; without it their tests skip and say why.
requires_ftm = pytest.mark.skipif(
    ftm_mapping.model is None,
    reason="followthemoney is not installed (requirements-ftm.txt: PyICU did not build)",
)
