"""The element vocabulary every generator shares: token 0 is [MASK], tokens 1..100 are Z = 1..100."""
MASK_TOKEN = 0
NUM_ELEMENTS = 100  # logits cover Z = 1..100
