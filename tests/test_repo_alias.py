"""A repo that imports itself by the name of its authors' checkout: that name stands for the repo's package."""

import shutil
from pathlib import Path

from archread.runtime.repo_alias import own_names
from archread.runtime.verify import verify


def test_the_repos_own_name_is_found_and_a_guarded_optional_package_is_not(tmp_path):
    repo = tmp_path / "checkout_as_downloaded"
    repo.mkdir()
    (repo / "configuration_x.py").write_text("X = 1\n")
    (repo / "flash_kernel.py").write_text("Y = 2\n")
    (repo / "modeling_x.py").write_text(
        "import torch\nfrom x_model.configuration_x import X\n"  # the checkout was named x_model/
        "try:\n    from flash_pkg_archread_absent.flash_kernel import Y\nexcept ImportError:\n    pass\n"  # optional
        "from archread_absent_pkg.elsewhere import Z\n")  # another package: nothing of it in the repo
    assert own_names(repo) == {"x_model"}


def test_the_folders_own_name_is_the_repo(tmp_path):
    repo = tmp_path / "my_model"
    repo.mkdir()
    (repo / "modeling_m.py").write_text("import my_model.helpers_not_here\n")
    assert own_names(repo) == {"my_model"}


def test_a_package_one_of_whose_modules_shares_a_file_name_with_the_repo_is_not_the_repo(tmp_path):
    """Evo imports `flash_attn.layers.rotary` beside its own layers.py, and `flash_attn.modules.mha` too."""
    repo = tmp_path / "evo"
    repo.mkdir()
    (repo / "layers.py").write_text("class RMSNorm:\n    pass\n")
    (repo / "model.py").write_text("from flash_pkg_archread_absent.layers.rotary import RotaryEmbedding\n"
                                   "from flash_pkg_archread_absent.modules.mha import MHA\n")
    assert own_names(repo) == set()


def test_a_folder_imported_from_its_repos_root_is_the_repo(tmp_path):
    """`from utils.model_x.configuration_x import X` in a folder its authors kept at utils/model_x/."""
    repo = tmp_path / "downloaded"
    repo.mkdir()
    (repo / "configuration_x.py").write_text("X = 1\n")
    (repo / "modeling_x.py").write_text("from archread_absent_root.model_x.configuration_x import X\n")
    assert own_names(repo) == {"archread_absent_root.model_x"}


def test_a_repo_importing_itself_from_its_repos_root_verifies(tmp_path):
    """The authors ran it from the repo's root, where the folder is `archread_absent_root/rc/`."""
    repo = tmp_path / "rc"
    shutil.copytree(Path(__file__).parent / "data" / "remote_repos" / "rc_llama", repo)
    modeling = repo / "modeling_rc_llama.py"
    modeling.write_text(modeling.read_text().replace(
        "from .configuration_rc_llama import", "from archread_absent_root.rc.configuration_rc_llama import"))
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()


def test_a_folder_importing_from_the_packages_above_it_verifies(tmp_path):
    """A model folder inside its project's package (`from ...common import MARK` two levels up)."""
    (tmp_path / "proj" / "models").mkdir(parents=True)
    for init in (tmp_path / "proj" / "__init__.py", tmp_path / "proj" / "models" / "__init__.py"):
        init.write_text("")
    (tmp_path / "proj" / "common.py").write_text("MARK = 1.0\n")
    repo = tmp_path / "proj" / "models" / "rc"
    shutil.copytree(Path(__file__).parent / "data" / "remote_repos" / "rc_llama", repo)
    modeling = repo / "modeling_rc_llama.py"
    text = modeling.read_text().replace("from .layers import", "from ...common import MARK\nfrom .layers import")
    modeling.write_text(text.replace("return self.norm(x)", "return self.norm(x) * MARK"))
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()


def test_a_folder_inside_the_package_its_imports_name_is_not_stood_in_for(tmp_path):
    """fla/models/gla in its checkout importing `fla.models.gla.configuration_gla`: the installed package's name."""
    repo = tmp_path / "archread_absent_pkg" / "models" / "gla"
    repo.mkdir(parents=True)
    for init in (tmp_path / "archread_absent_pkg" / "__init__.py", tmp_path / "archread_absent_pkg" / "models" / "__init__.py"):
        init.write_text("")
    (repo / "configuration_gla.py").write_text("X = 1\n")
    (repo / "modeling_gla.py").write_text("from archread_absent_pkg.models.gla.configuration_gla import X\n")
    assert own_names(repo) == set()
