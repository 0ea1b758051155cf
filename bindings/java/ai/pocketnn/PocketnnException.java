package ai.pocketnn;

/** An error of the C runtime: its pnn_status code and its message (which names the node and op). */
public final class PocketnnException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;

    PocketnnException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** The pnn_status code of pocketnn.h, e.g. 3 for PNN_ERR_FORMAT. */
    public int status() {
        return status;
    }
}
