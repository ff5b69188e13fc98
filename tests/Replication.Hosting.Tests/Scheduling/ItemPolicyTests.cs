using Replication.Hosting.Items;

namespace Replication.Hosting.Tests.Scheduling;

public sealed class ItemPolicyTests
{
    [Theory]
    [InlineData(30)]
    [InlineData(300)]
    [InlineData(900)]
    [InlineData(47)]
    public void Hyper_V_frequencies_and_any_of_at_least_30_seconds_are_valid(int seconds)
    {
        Assert.Empty(new ItemPolicy { CopyFrequency = TimeSpan.FromSeconds(seconds) }.Validate());
    }

    [Fact]
    public void Each_invalid_option_is_named()
    {
        var policy = new ItemPolicy
        {
            CopyFrequency = TimeSpan.FromSeconds(29),
            RetentionCount = 0,
            ResyncThreshold = 1.5,
            UploadConcurrency = 65,
            MaxBytesPerSecond = 100,
            ResyncWindow = new ResyncWindow { BusinessHoursStart = 18, BusinessHoursEnd = 8, TimeZone = "Nowhere/Atlantis" },
        };
        IReadOnlyList<string> problems = policy.Validate("P");
        foreach (string option in new[] { "P.CopyFrequency", "P.RetentionCount", "P.ResyncThreshold", "P.UploadConcurrency", "P.MaxBytesPerSecond", "P.ResyncWindow.BusinessHoursEnd", "P.ResyncWindow.TimeZone" })
        {
            Assert.Contains(problems, p => p.StartsWith(option, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void The_default_window_is_closed_in_business_hours_and_open_outside_them()
    {
        var window = new ResyncWindow { TimeZone = "Europe/Paris" };
        Assert.False(window.IsOpen(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero)));   // Monday 10:00 in Paris
        Assert.True(window.IsOpen(new DateTimeOffset(2026, 3, 2, 17, 30, 0, TimeSpan.Zero)));  // Monday 18:30 in Paris
        Assert.True(window.IsOpen(new DateTimeOffset(2026, 3, 7, 11, 0, 0, TimeSpan.Zero)));   // Saturday
        Assert.True(window.IsOpen(new DateTimeOffset(2026, 3, 2, 6, 0, 0, TimeSpan.Zero)));    // Monday 07:00 in Paris
    }
}
