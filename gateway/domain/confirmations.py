"""What a bank's core system confirms about a case's loan, compared with what the counter applied for.

The register records the mortgage's 被担保主债权数额 and 债务履行期限 as the application states them
(《不动产登记簿使用和填写说明》 抵押权登记信息; shared/reference/domain.md §4.2), and the applicants file the
主债权合同 with it (不动产登记暂行条例实施细则 第66条). A change of either is itself a registration (实施细则
第68条: "被担保主债权数额变化的 / 债务履行期限变化的" → 抵押权变更登记), so the contract the bank records must say
what the register will: otherwise the bank's refusal goes back to the counter (补正) with the rule named.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from gateway.domain.cases import MortgageTerms
from gateway.domain.rules import RuleResult


def loan_matches_application(
    terms: MortgageTerms, amount: Decimal, term_start: date | None, term_end: date | None
) -> list[RuleResult]:
    """`bank_amount_matches` and `bank_term_matches`: the bank's recorded amount and 债务履行期限 against
    the application. A bank that does not report the term has not confirmed it."""
    results = []
    if amount == terms.amount:
        results.append(RuleResult("bank_amount_matches", True))
    else:
        results.append(
            RuleResult(
                "bank_amount_matches",
                False,
                f"银行核心系统记载金额 {amount} 与申请金额 {terms.amount} 不符",
                f"the bank's core system records the amount {amount}, the application {terms.amount}",
            )
        )
    applied = f"{terms.term_start.isoformat()}—{terms.term_end.isoformat()}"
    if term_start is None or term_end is None:
        results.append(
            RuleResult(
                "bank_term_matches",
                False,
                f"银行核心系统未返回债务履行期限，无法与申请的 {applied} 核对",
                f"the bank's core system did not report the loan term; the application says {applied}",
            )
        )
    elif (term_start, term_end) != (terms.term_start, terms.term_end):
        recorded = f"{term_start.isoformat()}—{term_end.isoformat()}"
        results.append(
            RuleResult(
                "bank_term_matches",
                False,
                f"银行核心系统记载债务履行期限 {recorded} 与申请的 {applied} 不符",
                f"the bank's core system records the loan term {recorded}, the application {applied}",
            )
        )
    else:
        results.append(RuleResult("bank_term_matches", True))
    return results
