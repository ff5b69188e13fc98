namespace Replication.Core.Tests.Infrastructure;

public sealed class TestKnobsTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("ten")]
    [InlineData("1.5")]
    [InlineData(" 8")]
    [InlineData("1000000")]
    public void A_count_of_zero_or_nonsense_is_refused_naming_the_variable(string value)
    {
        var ex = Assert.Throws<Xunit.Sdk.XunitException>(() => TestKnobs.Count("REPL_CRASH_RUNS", value, 8));
        Assert.Contains($"REPL_CRASH_RUNS='{value}' is not an iteration count", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, 8)]
    [InlineData("", 8)]
    [InlineData("1", 1)]
    [InlineData("250", 250)]
    public void An_unset_knob_gives_the_default_and_a_count_is_taken_as_given(string? value, int expected) =>
        Assert.Equal(expected, TestKnobs.Count("REPL_CRASH_RUNS", value, 8));
}
