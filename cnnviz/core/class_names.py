"""Named lists of class names shipped with cnnviz (``resources/classes/``).

An architecture file may give its classes as a list of names or as the name
of one of these lists (``"classes": "imagenet"``), so a thousand names need
not be copied into every ImageNet preset::

    from cnnviz.core.class_names import named_classes
    named_classes("imagenet")[285]  # 'Egyptian cat'
"""

from __future__ import annotations

import functools

from cnnviz.core.resources import resource_path

# name → (file in resources/classes, number of names it must hold)
NAMED_LISTS = {"imagenet": ("imagenet.txt", 1000)}


def is_named_list(name: object) -> bool:
    return isinstance(name, str) and name in NAMED_LISTS


@functools.cache
def named_classes(name: str) -> tuple[str, ...]:
    """The class names of list `name`, in index order; KeyError for an unknown name."""
    if name not in NAMED_LISTS:
        raise KeyError(f"no class list {name!r} (known: {', '.join(NAMED_LISTS)})")
    file, count = NAMED_LISTS[name]
    text = resource_path("classes", file).read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != count:  # a damaged installation, not a user's mistake
        raise ValueError(f"resources/classes/{file} holds {len(names)} names, not {count}")
    return names
