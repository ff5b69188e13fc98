using System.Text;
using System.Text.RegularExpressions;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>
/// Every relative link in the README, the changelog, docs/*.md and the samples' READMEs points at a file or folder that
/// exists in the repository, and every #anchor at a heading of the page it names (as the repository host makes them).
/// </summary>
public sealed partial class DocsLinkTests
{
    public static TheoryData<string> Pages()
    {
        var pages = new TheoryData<string>();
        foreach (string page in new[] { "README.md", "CHANGELOG.md" }
            .Concat(Directory.GetFiles(Path.Combine(RepoPaths.Root, "docs"), "*.md").Select(p => Path.GetRelativePath(RepoPaths.Root, p)))
            .Concat(Directory.GetFiles(Path.Combine(RepoPaths.Root, "samples"), "README.md", SearchOption.AllDirectories)
                .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                    && !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .Select(p => Path.GetRelativePath(RepoPaths.Root, p)))
            .Order(StringComparer.Ordinal))
        {
            pages.Add(page);
        }

        return pages;
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void Every_relative_link_resolves_to_a_file_and_heading(string page)
    {
        string path = Path.Combine(RepoPaths.Root, page);
        string text = CodeBlock().Replace(File.ReadAllText(path), string.Empty);
        var broken = new List<string>();
        foreach (Match link in MarkdownLink().Matches(text))
        {
            string target = link.Groups[1].Value;
            if (Uri.TryCreate(target, UriKind.Absolute, out Uri? absolute) && absolute.Scheme is "https" or "http" or "mailto")
            {
                continue;
            }

            string file = target.Split('#')[0];
            string? anchor = target.Contains('#', StringComparison.Ordinal) ? target[(target.IndexOf('#', StringComparison.Ordinal) + 1)..] : null;
            string resolved = file.Length == 0 ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, file));
            if (!resolved.StartsWith(RepoPaths.Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                broken.Add($"{target}: leaves the repository");
            }
            else if (!File.Exists(resolved) && !Directory.Exists(resolved))
            {
                broken.Add($"{target}: no such file");
            }
            else if (anchor is not null && !(File.Exists(resolved) && Anchors(resolved).Contains(anchor)))
            {
                broken.Add($"{target}: no heading with that anchor in {Path.GetRelativePath(RepoPaths.Root, resolved)}");
            }
        }

        Assert.True(broken.Count == 0, $"{page}: {string.Join("; ", broken)}");
    }

    [Fact]
    public void Anchors_are_made_as_the_repository_host_makes_them()
    {
        Assert.Equal("the-repl-command-line-tool", Slug("The `repl` command-line tool"));
        Assert.Equal("failover-and-failback-p13-p14", Slug("Failover and failback (P13, P14)"));
        Assert.Equal("protecting-a-machine-replicate-fail-over-fail-back", Slug("Protecting a machine: replicate, fail over, fail back"));
    }

    /// <summary>The anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens; repeats numbered.</summary>
    private static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match heading in Heading().Matches(CodeBlock().Replace(File.ReadAllText(markdown), string.Empty)))
        {
            string slug = Slug(heading.Groups[1].Value);
            int count = seen.GetValueOrDefault(slug);
            seen[slug] = count + 1;
            anchors.Add(count == 0 ? slug : $"{slug}-{count}");
        }

        return anchors;
    }

    private static string Slug(string heading)
    {
        var slug = new StringBuilder();
        foreach (char c in heading.Trim().ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_')
            {
                slug.Append(c);
            }
            else if (c == ' ')
            {
                slug.Append('-');
            }
        }

        return slug.ToString();
    }

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^#{1,6}\s+(.+?)\s*#*\s*$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CodeBlock();
}
