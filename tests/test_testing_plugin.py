"""The pytest plugin: registered through the pytest11 entry point, its
fixtures and markers work in a user's test run, and the copyable example
test file passes."""

from __future__ import annotations

import shutil
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "triage_queue"]
    assert len(found) == 1
    assert found[0].value == "triage_queue.testing.plugin"
    assert found[0].load().__name__ == "triage_queue.testing.plugin"


def test_the_plugin_is_active_in_this_run(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("triage_queue")
    markers = "\n".join(pytestconfig.getini("markers"))
    for name in ("triage_policy", "triage_agents", "triage_options", "triage_start"):
        assert f"{name}(" in markers


def test_default_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from triage_queue import Dispatcher, Policy, Ticket, TicketQueue
        from triage_queue.testing import FakeClock

        def test_clock(triage_clock):
            assert isinstance(triage_clock, FakeClock) and triage_clock() == 0.0

        def test_queue(triage_queue, triage_clock):
            assert isinstance(triage_queue, TicketQueue)
            assert triage_queue.policy == Policy.default()
            triage_queue.push(Ticket("T", 0.0))
            triage_clock.advance(minutes=1)
            assert "60 s ago" in str(triage_queue.explain("T"))

        def test_dispatcher(triage_dispatcher, triage_queue):
            assert isinstance(triage_dispatcher, Dispatcher)
            assert triage_dispatcher.queue is triage_queue
            assert len(triage_dispatcher.roster) == 0
            assert triage_dispatcher.submit(Ticket("T", 0.0)) is None  # nobody to offer it to

        def test_each_test_gets_fresh_fixtures(triage_queue, triage_clock):
            assert len(triage_queue) == 0 and triage_clock() == 0.0
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=4)


def test_markers_choose_policy_agents_options_and_start(pytester: pytest.Pytester) -> None:
    shutil.copy(ROOT / "examples" / "policies" / "fifo-sla.toml", pytester.path / "fifo.toml")
    pytester.makepyfile(
        """
        import pytest
        from triage_queue import Agent, Emergency, FeedbackOrder, LeastLoaded, Policy, RoundRobin, Ticket
        from triage_queue.config import parse_policy

        FIFO = Policy.lexicographic(FeedbackOrder())

        @pytest.mark.triage_policy(FIFO)
        def test_policy_value(triage_queue):
            assert triage_queue.policy == FIFO

        @pytest.mark.triage_policy("fifo.toml")
        def test_policy_path(triage_queue, triage_dispatcher):
            assert triage_queue.policy == Policy.lexicographic(Emergency(), FeedbackOrder(), max_wait=3600)

        @pytest.mark.triage_policy(parse_policy('[[rules]]\\nkind = "feedback_order"\\n[dispatcher]\\nselection = "round_robin"\\noffer_timeout = "2m"'))
        @pytest.mark.triage_agents(["ana"])
        def test_policy_file_sets_selection_and_options(triage_dispatcher):
            assert isinstance(triage_dispatcher.selection, RoundRobin)
            assert triage_dispatcher.submit(Ticket("T", 0.0)).expires_at == 120.0

        @pytest.mark.triage_agents([Agent("ana", skills={"billing": 2}), "bo"])
        def test_agents_values_and_ids(triage_dispatcher):
            assert sorted(a.id for a in triage_dispatcher.roster) == ["ana", "bo"]
            assert triage_dispatcher.submit(Ticket("T", 0.0, skills={"billing": 1})).agent_id == "ana"

        @pytest.mark.triage_agents("ana", "bo")
        def test_agents_as_arguments(triage_dispatcher):
            assert len(triage_dispatcher.roster) == 2

        @pytest.mark.triage_agents(["ana"])
        @pytest.mark.triage_options(offer_timeout=None, selection=LeastLoaded())
        def test_options(triage_dispatcher):
            assert isinstance(triage_dispatcher.selection, LeastLoaded)
            assert triage_dispatcher.submit(Ticket("T", 0.0)).expires_at == float("inf")

        @pytest.mark.triage_start(1000.0)
        def test_start(triage_clock, triage_queue):
            assert triage_clock() == 1000.0
            triage_queue.push(Ticket("T", 990.0))
            assert "10 s ago" in str(triage_queue.explain("T"))

        @pytest.mark.triage_policy(FIFO)
        class TestOnAClass:
            def test_inherits_the_marker(self, triage_queue):
                assert triage_queue.policy == FIFO

            @pytest.mark.triage_policy(Policy.default())
            def test_closest_marker_wins(self, triage_queue):
                assert triage_queue.policy == Policy.default()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=9)


def test_misused_markers_fail_with_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.triage_policy("missing.toml")
        def test_missing_file(triage_queue):
            pass

        @pytest.mark.triage_policy(42)
        def test_not_a_policy(triage_queue):
            pass

        @pytest.mark.triage_policy()
        def test_no_argument(triage_queue):
            pass

        @pytest.mark.triage_options(30)
        def test_positional_options(triage_dispatcher):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        [
            f"*InvalidPolicy: path='{pytester.path.resolve() / 'missing.toml'}': cannot read it*",
            "*InvalidArgument: triage_policy=42: expected a Policy, a PolicyFile or the path of a policy TOML file*",
            "*InvalidArgument: triage_policy=(): expected one argument*",
            "*InvalidArgument: triage_options=(30,): expected keyword arguments only*",
        ]
    )


def test_a_relative_policy_path_is_read_beside_the_test_file(pytester: pytest.Pytester) -> None:
    """A relative triage_policy path resolves against the test file's folder
    wherever pytest is started from, and a missing file's error names the
    resolved path."""
    tests = pytester.mkdir("tests")
    (tests / "policies").mkdir()
    shutil.copy(ROOT / "examples" / "policies" / "fifo-sla.toml", tests / "policies" / "fifo.toml")
    (tests / "test_beside.py").write_text(
        """
import pytest
from triage_queue import Emergency, FeedbackOrder, Policy

@pytest.mark.triage_policy("policies/fifo.toml")
def test_found(triage_queue):
    assert triage_queue.policy == Policy.lexicographic(Emergency(), FeedbackOrder(), max_wait=3600)

@pytest.mark.triage_policy("policies/nope.toml")
def test_missing(triage_queue):
    pass
"""
    )
    for cwd in (pytester.path, tests, pytester.mkdir("elsewhere")):
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(cwd)
            result = pytester.runpytest(str(tests / "test_beside.py"), "-p", "no:cacheprovider")
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines([f"*InvalidPolicy: path='{tests.resolve() / 'policies' / 'nope.toml'}': cannot read it*"])


def test_markers_take_their_documented_keyword(pytester: pytest.Pytester) -> None:
    """triage_start(seconds=...), triage_agents(agents=[...]) and
    triage_policy(policy=...) act as their positional forms (they used to be
    silently ignored: the clock stayed at 0 and the roster empty)."""
    pytester.makepyfile(
        """
        import pytest
        from triage_queue import Agent, FeedbackOrder, Policy, Ticket

        FIFO = Policy.lexicographic(FeedbackOrder())

        @pytest.mark.triage_start(seconds=100)
        def test_start_keyword(triage_clock):
            assert triage_clock() == 100.0

        @pytest.mark.triage_agents(agents=["ana", Agent("bo", skills={"billing": 1})])
        def test_agents_keyword(triage_dispatcher):
            assert sorted(a.id for a in triage_dispatcher.roster) == ["ana", "bo"]
            assert triage_dispatcher.submit(Ticket("T", 0.0, skills={"billing": 1})).agent_id == "bo"

        @pytest.mark.triage_agents(agents="ana")
        def test_one_agent_id_by_keyword(triage_dispatcher):
            assert [a.id for a in triage_dispatcher.roster] == ["ana"]

        @pytest.mark.triage_policy(policy=FIFO)
        def test_policy_keyword(triage_queue):
            assert triage_queue.policy == FIFO
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=4)


def test_markers_refuse_unknown_keywords_and_wrong_arity(pytester: pytest.Pytester) -> None:
    """A misspelt keyword is an error naming it, never silently dropped."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.triage_start(start=100)
        def test_start_unknown_keyword(triage_clock):
            pass

        @pytest.mark.triage_start(1, 2)
        def test_start_two_values(triage_clock):
            pass

        @pytest.mark.triage_start(5, seconds=6)
        def test_start_twice(triage_clock):
            pass

        @pytest.mark.triage_agents(roster=["ana"])
        def test_agents_unknown_keyword(triage_dispatcher):
            pass

        @pytest.mark.triage_agents("bo", agents=["ana"])
        def test_agents_twice(triage_dispatcher):
            pass

        @pytest.mark.triage_agents([42])
        def test_agents_not_agents(triage_dispatcher):
            pass

        @pytest.mark.triage_policy(polcy="fifo.toml")
        def test_policy_unknown_keyword(triage_queue):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=7)
    result.stdout.fnmatch_lines_random(
        [
            "*InvalidArgument: triage_start={'start': 100}: unknown keyword 'start': expected triage_start(seconds)*",
            "*InvalidArgument: triage_start=(1, 2): expected one argument: the start time in seconds*",
            "*InvalidArgument: triage_start=(5, {'seconds': 6}): expected one argument*",
            # (no square brackets: fnmatch reads them as a character set)
            "*InvalidArgument: triage_agents={'roster': *}: unknown keyword 'roster': expected triage_agents(*",
            "*InvalidArgument: triage_agents=('bo', {'agents': *}): give the agents positionally or as agents=*, not both",
            "*InvalidArgument: triage_agents=42: expected an Agent or an agent id*",
            "*InvalidArgument: triage_policy={'polcy': 'fifo.toml'}: unknown keyword 'polcy'*",
        ]
    )


def test_the_copyable_example_test_file_passes(pytester: pytest.Pytester) -> None:
    """examples/test_my_policy.py is what docs/testing-policies.md tells users
    to copy: it must keep passing."""
    shutil.copy(ROOT / "examples" / "test_my_policy.py", pytester.path / "test_my_policy.py")
    shutil.copytree(ROOT / "examples" / "policies", pytester.path / "policies")
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=6)


def test_the_documented_given_with_fixtures_example_passes(pytester: pytest.Pytester) -> None:
    """The @given example in docs/testing-policies.md runs as written (next to
    a copy of examples/policies), and without its suppress_health_check line
    hypothesis refuses it, as the docs say."""
    text = (ROOT / "docs" / "testing-policies.md").read_text()
    block = text.split("```python\n# test_given_with_fixtures.py\n", 1)[1].split("```", 1)[0]
    shutil.copytree(ROOT / "examples" / "policies", pytester.path / "policies")
    pytester.makepyfile(test_given_with_fixtures=block)
    pytester.runpytest("-p", "no:cacheprovider", "--strict-markers").assert_outcomes(passed=1)
    unsuppressed = block.replace("suppress_health_check=[HealthCheck.function_scoped_fixture], ", "")
    assert unsuppressed != block
    pytester.makepyfile(test_given_with_fixtures=unsuppressed)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*function-scoped fixture*"])
