"""Use cases of the gateway: what a bank counter, an examiner, a registrar and a party can do to a case."""
