using Prometheus;

namespace MerkleSync.Server.Hosting;

/// <summary>The server's own metrics, exported on <c>/metrics</c> beside prometheus-net's HTTP request metrics.</summary>
public static class ServerMetrics
{
    public static readonly Counter BytesIn = Metrics.CreateCounter("merklesync_bytes_received_total", "Request body bytes received.");
    public static readonly Counter BytesOut = Metrics.CreateCounter("merklesync_bytes_sent_total", "Response body bytes sent.");
    public static readonly Counter UploadsCompleted = Metrics.CreateCounter("merklesync_uploads_completed_total", "Pack uploads verified and indexed.");
    public static readonly Counter UploadsRejected = Metrics.CreateCounter("merklesync_uploads_rejected_total", "Pack uploads that failed verification.");
    public static readonly Counter UploadResumes = Metrics.CreateCounter("merklesync_upload_offset_queries_total", "Upload offset queries (tus HEAD): resumes after an interruption.");
    public static readonly Counter ChecksumMismatches = Metrics.CreateCounter("merklesync_upload_checksum_mismatches_total", "PATCH bodies refused for a bad checksum.");
    public static readonly Counter PacksReadBack = Metrics.CreateCounter("merklesync_packs_read_back_total", "Uploaded packs verified by reading them back: their bytes did not all arrive in order through this server process (packs are otherwise verified as they arrive).");
    public static readonly Histogram VerifySecondsPerGb = Metrics.CreateHistogram("merklesync_pack_verify_seconds_per_gb", "Seconds from an uploaded pack's last byte to its being verified and indexed, per GB.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.05, 2, 10) });
    public static readonly Counter Publishes = Metrics.CreateCounter("merklesync_publishes_total", "Versions published.");
    public static readonly Counter PublishConflicts = Metrics.CreateCounter("merklesync_publish_conflicts_total", "Publishes refused because the branch moved (409).");
    public static readonly Counter VersionsForgotten = Metrics.CreateCounter("merklesync_versions_forgotten_total", "Versions dropped from histories by forget.");
    public static readonly Counter GcBytesFreed = Metrics.CreateCounter("merklesync_gc_bytes_freed_total", "Pack bytes deleted by garbage collection (rewritten packs count whole; their new packs are written anew).");
}
