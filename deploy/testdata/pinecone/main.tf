# Only read by the tests of the API key check.
