"""Simulated banks: one server class per wire format, all keeping their books in a BankLedger."""
