using System.Text.Json;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Nbd;

/// <summary>
/// Real clients we did not write (Debian's qemu-utils and libnbd-bin) against the server exporting a tracked disk:
/// what they write is on the disk, and the sealed HRL logs applied to the starting disk reproduce it byte for byte.
/// </summary>
public sealed class NbdInteropTests
{
    private const int Size = 16 << 20;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Qemu_io_writes_at_scattered_offsets_read_back_and_the_logs_reproduce_them(bool unixSocket)
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size, unixSocket: unixSocket);
        var commands = new List<string>();
        byte[] model = (byte[])server.Start.Clone();
        var random = new Random(15);
        for (int i = 0; i < 24; i++)
        {
            long offset = random.Next(0, Size / 512) * 512L;
            int length = (int)Math.Min(Size - offset, random.Next(1, 257) * 512);
            byte pattern = (byte)random.Next(1, 256);
            commands.Add($"write -P {pattern} {offset} {length}");
            model.AsSpan((int)offset, length).Fill(pattern);
        }

        commands.Add($"write -z {3 << 20} {1 << 20}");
        model.AsSpan(3 << 20, 1 << 20).Clear();
        commands.Add($"discard {8 << 20} {512 << 10}");
        model.AsSpan(8 << 20, 512 << 10).Clear();
        commands.Add("write -P 0x5a -f 0 4096");
        model.AsSpan(0, 4096).Fill(0x5a);
        commands.Add("flush");
        commands.Add("read -P 0x5a 0 4096");
        commands.Add($"read -P 0 {3 << 20} {1 << 20}");
        commands.Add($"read -P 0 {8 << 20} {512 << 10}");

        string output = ExternalTool.RunChecked("qemu-io", ["-f", "raw", .. commands.SelectMany(c => new[] { "-c", c }), server.Uri]);
        Assert.DoesNotContain("fail", output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(model, server.DiskBytes());
        Assert.Equal(model, await server.ReplayLogsAsync());
        Assert.Equal(0, server.Server.UnexpectedFaults);
    }

    [Fact]
    public async Task Qemu_img_convert_from_the_export_equals_the_disk()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        string output = server.Temp.File("out.raw");
        ExternalTool.RunChecked("qemu-img", "convert", "-f", "raw", "-O", "raw", server.Uri, output);
        Assert.Equal(server.DiskBytes(), await File.ReadAllBytesAsync(output));

        // And back: qemu-img writing the export (zeroes, data, flush) leaves exactly the source, in disk and logs.
        byte[] source = DiskKinds.ScatteredContent(Size, 99);
        string sourcePath = server.Temp.File("source.raw");
        await File.WriteAllBytesAsync(sourcePath, source);
        ExternalTool.RunChecked("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", sourcePath, server.Uri);
        Assert.Equal(source, server.DiskBytes());
        Assert.Equal(source, await server.ReplayLogsAsync());
    }

    [Fact]
    public async Task Nbdinfo_lists_the_export_with_its_size_and_flags()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        string json = ExternalTool.RunChecked("nbdinfo", "--json", "--list", server.Uri.Replace("/disk", "", StringComparison.Ordinal));
        using var doc = JsonDocument.Parse(json);
        Assert.False(doc.RootElement.GetProperty("TLS").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("structured").GetBoolean());
        JsonElement export = Assert.Single(doc.RootElement.GetProperty("exports").EnumerateArray());
        Assert.Equal("disk", export.GetProperty("export-name").GetString());
        Assert.Equal(Size, export.GetProperty("export-size").GetInt64());
        Assert.False(export.GetProperty("is_read_only").GetBoolean());
        foreach (string flag in new[] { "can_flush", "can_fua", "can_trim", "can_zero", "can_multi_conn", "can_df" })
        {
            Assert.True(export.GetProperty(flag).GetBoolean(), flag);
        }

        Assert.Equal(512, export.GetProperty("block_size_minimum").GetInt32());
        Assert.Equal(4096, export.GetProperty("block_size_preferred").GetInt32());
        Assert.Equal(32 << 20, export.GetProperty("block_size_maximum").GetInt32());
    }

    [Fact]
    public async Task Nbdcopy_copies_into_the_export_and_out_of_it_over_several_connections()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        byte[] source = DiskKinds.ScatteredContent(Size, 1234);
        source.AsSpan(5 << 20, 2 << 20).Clear();
        string sourcePath = server.Temp.File("in.raw");
        await File.WriteAllBytesAsync(sourcePath, source);

        ExternalTool.RunChecked("nbdcopy", "--connections=4", "--flush", sourcePath, server.Uri);
        Assert.Equal(source, server.DiskBytes());

        string back = server.Temp.File("back.raw");
        ExternalTool.RunChecked("nbdcopy", "--connections=4", server.Uri, back);
        Assert.Equal(source, await File.ReadAllBytesAsync(back));
        Assert.Equal(source, await server.ReplayLogsAsync());
        Assert.Equal(0, server.Server.UnexpectedFaults);
    }

    [Fact]
    public async Task Writes_go_on_while_the_log_rotates_and_the_sealed_logs_still_reproduce_the_disk()
    {
        await using NbdTestServer server = await NbdTestServer.StartAsync(Size);
        byte[] source = DiskKinds.ScatteredContent(Size, 77);
        string sourcePath = server.Temp.File("in.raw");
        await File.WriteAllBytesAsync(sourcePath, source);
        using var stop = new CancellationTokenSource();
        int rotations = 0;
        Task rotating = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await server.Tracked.RotateAsync();
                rotations++;
            }
        });

        ExternalTool.RunChecked("nbdcopy", "--connections=2", "--requests=16", sourcePath, server.Uri);
        await stop.CancelAsync();
        await rotating;
        Assert.True(rotations > 0);
        Assert.Equal(source, server.DiskBytes());
        Assert.Equal(source, await server.ReplayLogsAsync());
    }
}
