"""Tree edits as pure functions: where layers go in a network with blocks, and
the old → new address map that hand-set kernels and the selection follow."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.core import blocks, stack_edits, tree_edits
from cnnviz.core.analysis import analyze
from cnnviz.core.architecture import Architecture, ArchitectureError, InputShape, Layer, loads

INPUT = InputShape(3, 8, 8)


def leaf(n: int) -> Layer:
    """A layer that is told apart from the others by its number."""
    return Layer.make("Conv2d", out_channels=n, kernel_size=1)


def residual(body, shortcut=()) -> Layer:
    return Layer.block("Residual", [body, shortcut])


def parallel(*branches, merge="concat") -> Layer:
    return Layer.block("Parallel", branches, merge=merge)


def net(*layers) -> Architecture:
    return Architecture("t", INPUT, tuple(layers))


def labels(layers) -> list:
    """Leaves as their number, blocks as (type, [paths])."""
    out = []
    for layer in layers:
        if layer.is_block:
            out.append((layer.type, [labels(p) for p in layer.paths]))
        else:
            out.append(layer.get("out_channels"))
    return out


# A network with a block of each kind: 1, Res(body 2 3, shortcut 4), 5, Par(6 | 7 8 | -)
TREE = net(
    leaf(1),
    residual([leaf(2), leaf(3)], [leaf(4)]),
    leaf(5),
    parallel([leaf(6)], [leaf(7), leaf(8)], []),
)


def check_map(old: Architecture, edit: tree_edits.TreeEdit, changed=()) -> None:
    """Every mapped layer is the same layer at its new address, and the new
    addresses are distinct and real."""
    new_addresses = tree_edits.flat_addresses(edit.architecture)
    assert len(set(edit.address_map.values())) == len(edit.address_map)
    for old_address, new_address in edit.address_map.items():
        assert new_address in new_addresses
        before = tree_edits.layer_at(old, old_address)
        after = tree_edits.layer_at(edit.architecture, new_address)
        if old_address in changed:
            continue
        assert (before.type, dict(before.params)) == (after.type, dict(after.params))
    for address in edit.selected:
        assert address in new_addresses


def test_container_of():
    assert tree_edits.container_of("3") == ("", 3)
    assert tree_edits.container_of("3.body.0") == ("3.body", 0)
    assert tree_edits.container_of("6.branches.2.1") == ("6.branches.2", 1)
    with pytest.raises(ArchitectureError, match="not a layer address"):
        tree_edits.container_of("3.body")


def test_layer_at_and_layers_in():
    assert tree_edits.layer_at(TREE, "1.shortcut.0") == leaf(4)
    assert tree_edits.layers_in(TREE, "3.branches.1") == (leaf(7), leaf(8))
    assert tree_edits.layers_in(TREE, "3.branches.2") == ()
    assert tree_edits.layers_in(TREE, "") == TREE.layers
    with pytest.raises(ArchitectureError, match="no layer 1.body.5"):
        tree_edits.layer_at(TREE, "1.body.5")
    with pytest.raises(ArchitectureError, match="no path '0.body'"):
        tree_edits.layers_in(TREE, "0.body")


def test_flat_addresses_are_the_analysis_order():
    assert tree_edits.flat_addresses(TREE) == tuple(i.address for i in analyze(TREE).layers)


def test_insert_into_a_path_at_a_position():
    edit = tree_edits.insert(TREE, "1.body", 1, [leaf(9), leaf(10)])
    assert labels(edit.architecture.layers)[1] == ("Residual", [[2, 9, 10, 3], [4]])
    assert edit.selected == ("1.body.1", "1.body.2")
    assert edit.address_map["1.body.1"] == "1.body.3"
    assert edit.address_map["3.branches.1.0"] == "3.branches.1.0"
    check_map(TREE, edit)
    # Clamped like a drop past the end, and into an empty branch.
    assert tree_edits.insert(TREE, "1.body", 99, [leaf(9)]).selected == ("1.body.2",)
    edit = tree_edits.insert(TREE, "3.branches.2", 0, [leaf(9)])
    assert labels(edit.architecture.layers)[3] == ("Parallel", [[6], [7, 8], [9]])


def test_insert_a_block_with_layers_inside_selects_the_block():
    block = residual([leaf(9)], [leaf(10)])
    edit = tree_edits.insert(TREE, "3.branches.0", 1, [block])
    assert edit.selected == ("3.branches.0.1",)
    assert tree_edits.layer_at(edit.architecture, "3.branches.0.1.shortcut.0") == leaf(10)


def test_remove_a_block_removes_what_it_holds_and_ignores_addresses_inside():
    edit = tree_edits.remove(TREE, ["1", "1.body.0", "2"])
    assert labels(edit.architecture.layers) == [1, ("Parallel", [[6], [7, 8], []])]
    assert edit.selected == ("1",)  # what now sits where layer 1 was
    assert edit.address_map == {
        "0": "0",
        "3": "1",
        "3.branches.0.0": "1.branches.0.0",
        "3.branches.1.0": "1.branches.1.0",
        "3.branches.1.1": "1.branches.1.1",
    }


def test_removing_the_last_layer_of_a_path_selects_its_block():
    edit = tree_edits.remove(TREE, ["1.shortcut.0"])
    assert labels(edit.architecture.layers)[1] == ("Residual", [[2, 3], []])
    assert edit.selected == ("1",)
    edit = tree_edits.remove(TREE, ["3.branches.1.1"])
    assert edit.selected == ("3.branches.1.0",)


def test_move_out_of_a_block():
    edit = tree_edits.move(TREE, ["1.body.1"], "", 0)
    assert labels(edit.architecture.layers)[:3] == [3, 1, ("Residual", [[2], [4]])]
    assert edit.selected == ("0",)
    assert edit.address_map["1.body.1"] == "0"
    assert edit.address_map["1.body.0"] == "2.body.0"
    check_map(TREE, edit)


def test_move_into_a_block_counts_the_position_before_the_move():
    edit = tree_edits.move(TREE, ["0", "2"], "1.body", 1)
    assert labels(edit.architecture.layers) == [
        ("Residual", [[2, 1, 5, 3], [4]]),
        ("Parallel", [[6], [7, 8], []]),
    ]
    assert edit.selected == ("0.body.1", "0.body.2")
    check_map(TREE, edit)


def test_move_between_branches_and_paths():
    edit = tree_edits.move(TREE, ["3.branches.1.0"], "3.branches.2", 0)
    assert labels(edit.architecture.layers)[3] == ("Parallel", [[6], [8], [7]])
    assert edit.address_map["3.branches.1.1"] == "3.branches.1.0"
    edit = tree_edits.move(TREE, ["1.shortcut.0", "3.branches.0.0"], "1.body", 2)
    assert labels(edit.architecture.layers)[1] == ("Residual", [[2, 3, 4, 6], []])
    assert edit.selected == ("1.body.2", "1.body.3")
    check_map(TREE, edit)


def test_move_within_a_path_is_the_stack_move():
    edit = tree_edits.move(TREE, ["3.branches.1.0"], "3.branches.1", 2)
    assert labels(edit.architecture.layers)[3] == ("Parallel", [[6], [8, 7], []])
    assert edit.selected == ("3.branches.1.1",)


def test_move_a_whole_block_into_another():
    edit = tree_edits.move(TREE, ["1"], "3.branches.2", 0)
    par = labels(edit.architecture.layers)[2]
    assert par == ("Parallel", [[6], [7, 8], [("Residual", [[2, 3], [4]])]])
    assert edit.address_map["1.shortcut.0"] == "2.branches.2.0.shortcut.0"
    check_map(TREE, edit)


def test_move_by_stays_in_its_path():
    edit = tree_edits.move_by(TREE, ["3.branches.1.1"], -1)
    assert labels(edit.architecture.layers)[3] == ("Parallel", [[6], [8, 7], []])
    assert edit.selected == ("3.branches.1.0",)
    at_top = tree_edits.move_by(TREE, ["1.body.0"], -1)
    assert at_top.architecture == TREE and at_top.selected == ("1.body.0",)
    with pytest.raises(ArchitectureError, match="one path"):
        tree_edits.move_by(TREE, ["0", "1.body.0"], 1)


def test_duplicate_puts_copies_after_the_last_in_each_path():
    edit = tree_edits.duplicate(TREE, ["1.body.0", "1.body.1", "3.branches.1.0"])
    layers = labels(edit.architecture.layers)
    assert layers[1] == ("Residual", [[2, 3, 2, 3], [4]])
    assert layers[3] == ("Parallel", [[6], [7, 7, 8], []])
    assert edit.selected == ("1.body.2", "1.body.3", "3.branches.1.1")
    check_map(TREE, edit)


def test_duplicate_a_block_copies_what_it_holds():
    edit = tree_edits.duplicate(TREE, ["1", "1.body.0"])
    assert labels(edit.architecture.layers)[2] == ("Residual", [[2, 3], [4]])
    assert edit.selected == ("2",)
    assert edit.address_map["2"] == "3"


def test_replace_a_parameter_deep_inside_and_a_blocks_merge():
    edit = tree_edits.replace(TREE, "3.branches.1.1", leaf(8).with_params(kernel_size=3))
    assert tree_edits.layer_at(edit.architecture, "3.branches.1.1").get("kernel_size") == 3
    assert edit.selected == ("3.branches.1.1",)
    block = tree_edits.layer_at(TREE, "3")
    edit = tree_edits.replace(TREE, "3", block.with_params(merge="add"))
    assert edit.architecture.layers[3].params["merge"] == "add"
    assert edit.architecture.layers[3].paths == block.paths
    assert edit.address_map["3.branches.1.1"] == "3.branches.1.1"
    check_map(TREE, edit, changed=("3",))


def test_replace_refuses_a_block_without_its_paths():
    with pytest.raises(ArchitectureError, match="two paths"):
        tree_edits.replace(TREE, "1", Layer.make("Residual"))


def test_wrap_and_unwrap_round_trip():
    edit = tree_edits.wrap(TREE, ["1.body.1", "1.body.0"])
    assert labels(edit.architecture.layers)[1] == ("Residual", [[("Residual", [[2, 3], []])], [4]])
    assert edit.selected == ("1.body.0",)
    assert edit.address_map["1.body.1"] == "1.body.0.body.1"
    check_map(TREE, edit)
    back = tree_edits.unwrap(edit.architecture, "1.body.0")
    assert back.architecture == TREE
    assert back.selected == ("1.body.0", "1.body.1")
    composed = {old: back.address_map[new] for old, new in edit.address_map.items()}
    assert composed == {a: a for a in tree_edits.flat_addresses(TREE)}


def test_wrap_in_a_parallel_makes_its_one_branch():
    edit = tree_edits.wrap(TREE, ["0"], "Parallel", merge="add")
    block = edit.architecture.layers[0]
    assert (block.type, block.params["merge"], labels(block.paths[0])) == ("Parallel", "add", [1])
    assert len(block.paths) == 1
    # One branch merges to itself: the network computes what it did.
    assert analyze(edit.architecture).output_shape == analyze(TREE).output_shape


def test_unwrap_keeps_the_body_and_drops_the_shortcut():
    edit = tree_edits.unwrap(TREE, "1")
    assert labels(edit.architecture.layers) == [1, 2, 3, 5, ("Parallel", [[6], [7, 8], []])]
    assert "1.shortcut.0" not in edit.address_map
    assert edit.address_map["3"] == "4"
    empty = tree_edits.unwrap(net(leaf(1), residual([]), leaf(2)), "1")
    assert labels(empty.architecture.layers) == [1, 2] and empty.selected == ("1",)


def test_branches_added_and_removed():
    edit = tree_edits.add_branch(TREE, "3")
    assert len(edit.architecture.layers[3].paths) == 4 and edit.selected == ("3",)
    edit = tree_edits.remove_branch(TREE, "3", 0)
    assert labels(edit.architecture.layers)[3] == ("Parallel", [[7, 8], []])
    assert edit.address_map["3.branches.1.1"] == "3.branches.0.1"
    assert "3.branches.0.0" not in edit.address_map
    check_map(TREE, edit)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda: tree_edits.move(TREE, ["1"], "1.body", 0), "cannot move layer 1 Residual into"),
        (lambda: tree_edits.move(TREE, ["0"], "9.body", 0), "no path '9.body'"),
        (lambda: tree_edits.insert(TREE, "0.body", 0, [leaf(1)]), "no path '0.body'"),
        (lambda: tree_edits.remove(TREE, ["7"]), "no layer 7"),
        (lambda: tree_edits.remove_branch(TREE, "3", 5), "layer 3 Parallel has no branch 5"),
        (
            lambda: tree_edits.remove_branch(net(parallel([leaf(1)])), "0", 0),
            "cannot remove its only branch",
        ),
        (lambda: tree_edits.add_branch(TREE, "1"), "layer 1 Residual is not a Parallel block"),
        (lambda: tree_edits.unwrap(TREE, "0"), "layer 0 Conv2d is not a block"),
        (lambda: tree_edits.wrap(TREE, ["0", "2"]), "adjacent"),
        (lambda: tree_edits.wrap(TREE, ["0", "1.body.0"]), "one path"),
        (lambda: tree_edits.wrap(TREE, []), "select the layers"),
        (lambda: tree_edits.wrap(TREE, ["0"], "Conv2d"), "not a block type"),
        (lambda: tree_edits.wrap(TREE, ["0"], "Parallel", merge="max"), "merge"),
    ],
)
def test_invalid_edits_say_why_in_one_line(edit, message):
    with pytest.raises(ArchitectureError, match=message) as caught:
        edit()
    assert "\n" not in str(caught.value)


def test_wrapping_deeper_than_a_file_may_nest_is_refused():
    arch = net(leaf(1))
    for _ in range(blocks.MAX_NESTING):
        arch = tree_edits.wrap(arch, ["0"]).architecture
    loads(arch.dumps())  # as deep as a file may be
    with pytest.raises(ArchitectureError, match=f"at most {blocks.MAX_NESTING} deep"):
        tree_edits.wrap(arch, ["0"])


def test_flat_index_map_follows_a_layer_into_a_block():
    edit = tree_edits.move(TREE, ["0"], "3.branches.2", 0)
    index_map = tree_edits.flat_index_map(TREE, edit)
    old, new = tree_edits.flat_addresses(TREE), tree_edits.flat_addresses(edit.architecture)
    assert new[index_map[0]] == "2.branches.2.0"
    assert len(index_map) == len(old)
    for i, j in index_map.items():
        assert edit.address_map[old[i]] == new[j]


# On a network without blocks every edit is the stack edit: same rows, same maps.

stacks = st.lists(st.integers(1, 30).map(leaf), min_size=1, max_size=8).map(lambda ls: net(*ls))


def same_as_stack(edit: tree_edits.TreeEdit, expected: stack_edits.StackEdit) -> None:
    assert edit.architecture.layers == expected.items
    assert edit.selected == tuple(str(r) for r in expected.rows)
    assert edit.address_map == {str(o): str(n) for o, n in expected.index_map.items()}


@settings(max_examples=60, deadline=None)
@given(arch=stacks, data=st.data())
def test_every_edit_on_a_plain_stack_is_the_stack_edit(arch, data):
    n = len(arch.layers)
    rows = data.draw(st.sets(st.integers(0, n - 1), min_size=1))
    addresses = [str(r) for r in rows]
    position = data.draw(st.integers(-2, n + 2))
    new = data.draw(st.lists(st.integers(31, 40).map(leaf), max_size=3))
    same_as_stack(
        tree_edits.insert(arch, "", position, new),
        stack_edits.insert(arch.layers, position, new),
    )
    same_as_stack(tree_edits.remove(arch, addresses), stack_edits.remove(arch.layers, rows))
    same_as_stack(
        tree_edits.move(arch, addresses, "", position),
        stack_edits.move(arch.layers, rows, position),
    )
    for step in (-1, 1):
        same_as_stack(
            tree_edits.move_by(arch, addresses, step),
            stack_edits.move_by(arch.layers, rows, step),
        )
    same_as_stack(tree_edits.duplicate(arch, addresses), stack_edits.duplicate(arch.layers, rows))


# Random nested networks: every edit keeps each surviving layer and says where it went.


@st.composite
def trees(draw, depth=0):
    """A network (or, deeper down, a path) of numbered leaves and blocks."""
    layers = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["leaf", "leaf", "res", "par"] if depth < 2 else ["leaf"]))
        if kind == "leaf":
            layers.append(leaf(draw(st.integers(1, 99))))
        elif kind == "res":
            layers.append(residual(draw(trees(depth + 1)).layers, draw(trees(depth + 1)).layers))
        else:
            n = draw(st.integers(1, 3))
            layers.append(parallel(*(draw(trees(depth + 1)).layers for _ in range(n))))
    return net(*layers)


def leaves(arch: Architecture) -> list[int]:
    return sorted(layer.get("out_channels") for _, layer in arch.walk() if not layer.is_block)


@settings(max_examples=80, deadline=None)
@given(arch=trees(), data=st.data())
def test_moves_on_random_trees_keep_every_layer(arch, data):
    addresses = tree_edits.flat_addresses(arch)
    if not addresses:
        return
    chosen = data.draw(st.lists(st.sampled_from(addresses), min_size=1, max_size=3))
    containers = [""] + [f"{a}.{name}" for a, layer in arch.walk() for name in layer.path_names]
    target = data.draw(st.sampled_from(containers))
    position = data.draw(st.integers(0, 4))
    try:
        edit = tree_edits.move(arch, chosen, target, position)
    except ArchitectureError as exc:
        # Only a block moved into itself is refused.
        assert "into itself" in str(exc)
        assert any(target.startswith(a + ".") for a in chosen)
        return
    assert leaves(edit.architecture) == leaves(arch)
    assert set(edit.address_map) == set(addresses)
    check_map(arch, edit)
    # They land together in the target path, wherever its block went.
    if target:
        block, path = re.fullmatch(r"(.*)\.(body|shortcut|branches\.\d+)", target).groups()
        target = f"{edit.address_map[block]}.{path}"
    assert {tree_edits.container_of(a)[0] for a in edit.selected} == {target}
    loads(edit.architecture.dumps())  # still a file cnnviz reads


@settings(max_examples=80, deadline=None)
@given(arch=trees(), data=st.data())
def test_wrap_then_unwrap_on_random_trees_is_the_identity(arch, data):
    addresses = tree_edits.flat_addresses(arch)
    if not addresses:
        return
    first = data.draw(st.sampled_from(addresses))
    container, at = tree_edits.container_of(first)
    length = len(tree_edits.layers_in(arch, container))
    count = data.draw(st.integers(1, length - at))
    run = [f"{container}.{i}" if container else str(i) for i in range(at, at + count)]
    kind = data.draw(st.sampled_from(["Residual", "Parallel"]))
    wrapped = tree_edits.wrap(arch, run, kind)
    check_map(arch, wrapped)
    (block,) = wrapped.selected
    back = tree_edits.unwrap(wrapped.architecture, block)
    assert back.architecture == arch
    composed = {old: back.address_map[new] for old, new in wrapped.address_map.items()}
    assert composed == {a: a for a in addresses}


@settings(max_examples=60, deadline=None)
@given(arch=trees(), data=st.data())
def test_remove_and_duplicate_on_random_trees(arch, data):
    addresses = tree_edits.flat_addresses(arch)
    if not addresses:
        return
    chosen = data.draw(st.lists(st.sampled_from(addresses), min_size=1, max_size=3))
    removed = tree_edits.remove(arch, chosen)
    check_map(arch, removed)
    gone = [a for a in addresses if any(a == c or a.startswith(c + ".") for c in chosen)]
    assert set(removed.address_map) == set(addresses) - set(gone)
    duplicated = tree_edits.duplicate(arch, chosen)
    check_map(arch, duplicated)
    assert set(duplicated.address_map) == set(addresses)
    copies = sum(
        1
        for a, _ in duplicated.architecture.walk()
        if any(a == s or a.startswith(s + ".") for s in duplicated.selected)
    )
    assert len(tree_edits.flat_addresses(duplicated.architecture)) == len(addresses) + copies
