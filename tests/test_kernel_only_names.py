"""A name the failing file defines only when an optional kernel is installed (`if is_flash_attn_2_available():`)
is read as the original asking for that kernel: GPU-only here, said in words, not a bare NameError."""

import importlib.util

import pytest

from archread.runtime.cuda_paths import asks_for_cuda, kernel_only_name

CODE = '''
def is_flash_attn_2_available():
    return False


if is_flash_attn_2_available():
    from flash_attn import flash_attn_func
    _supports_window = True


def attend():
    return _supports_window


def typo():
    return undefined_anywhere
'''


def _module(tmp_path):
    path = tmp_path / "modeling_probe.py"
    path.write_text(CODE)
    spec = importlib.util.spec_from_file_location("modeling_probe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_name_bound_only_under_an_availability_probe_is_the_kernels(tmp_path):
    module = _module(tmp_path)
    with pytest.raises(NameError) as probe_only:
        module.attend()
    assert kernel_only_name(probe_only.value) == "_supports_window, which modeling_probe.py defines only if is_flash_attn_2_available()"
    assert asks_for_cuda(probe_only.value)
    with pytest.raises(NameError) as typo:
        module.typo()
    assert kernel_only_name(typo.value) is None and not asks_for_cuda(typo.value)
