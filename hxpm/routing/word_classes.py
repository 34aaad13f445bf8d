"""Word classes a profile generalises over: a profile that knows several colours knows colour.

A profile holds only the words its expert's training prompts used: six colours, six garments.
A user names others ("teal running shorts", "a mustard cardigan"). When a profile knows at
least :data:`MIN_KNOWN` members of one of these classes, a prompt word of that class that no
profile knows reads as the class (docs/routing.md, "Word classes"), weighed like an average
member the profile knows, at half its frequency. This is the small, explainable part of what
word embeddings would give, with no model to download and no torch on the route path.

The lists are hxpm's own: common English words only, each in one class, stemmed at load as
profiles are. Left out: words with a technical sense ("rust", "python", "ruby", "train",
"mouse"), words whose stem is an everyday adjective or verb ("shorts" -> "short", "tights",
"suit", "top", "tie"), and dates (every document has one: they say nothing of a task).
"""

from __future__ import annotations

from functools import lru_cache

from hxpm.routing.profile import stem_word  # one stemmer for profiles and classes

MIN_KNOWN = 3  # members a profile must know before the class speaks for it
CLASS_DISCOUNT = 0.5  # an unseen member weighs as a known one at half its frequency

_CLASSES: dict[str, str] = {
    "colour": """
        red orange yellow green blue purple violet pink brown black white grey gray beige
        navy teal turquoise cyan magenta maroon burgundy crimson scarlet olive khaki cream
        ivory charcoal silver gold golden mustard lavender lilac plum coral salmon peach
        mint lime emerald sapphire indigo cobalt ochre taupe mauve fuchsia aqua multicolour
        multicolor striped checked plaid camel
        """,
    "garment": """
        shirt tee blouse vest jumper sweater cardigan hoodie sweatshirt jacket coat overcoat
        raincoat parka anorak blazer waistcoat gilet poncho cape dress skirt gown trouser
        pant jean chino legging jogger culotte dungaree jumpsuit romper sock stocking hat
        beanie beret scarf glove mitten belt bowtie shoe boot sneaker sandal loafer slipper
        bag handbag backpack purse tote wallet bra pyjama pajama robe bathrobe swimsuit
        bikini kilt sarong kimono tunic fleece windbreaker leotard tutu onesie bodysuit apron
        tracksuit dungarees crewneck turtleneck trench mac jersey cap visor shawl bandana
        headband balaclava smock cagoule coverall
        """,
    "fabric": """
        cotton wool linen silk denim leather suede velvet corduroy polyester nylon cashmere
        satin tweed flannel lycra spandex chiffon lace
        """,
    "animal": """
        dog cat horse cow pig sheep goat chicken goose rabbit hamster squirrel fox wolf deer
        lion tiger elephant giraffe zebra monkey whale dolphin shark octopus frog toad lizard
        turtle tortoise owl eagle hawk parrot pigeon sparrow butterfly snail
        """,
    "vehicle": """
        car truck lorry van bus tram bicycle bike motorcycle scooter taxi ferry boat ship
        airplane aeroplane helicopter tractor
        """,
}


@lru_cache(maxsize=1)
def word_classes() -> dict[str, str]:
    """Stemmed word -> its class name (each word in one class; the first listing wins)."""
    found: dict[str, str] = {}
    for name, words in _CLASSES.items():
        for word in words.split():
            found.setdefault(stem_word(word), name)
    return found


def class_term(name: str) -> str:
    """The profile term a class reads as: "<colour>" (no prompt word has angle brackets)."""
    return f"<{name}>"
