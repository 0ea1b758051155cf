package ai.pocketnn;

/** Element types of a tensor; the codes are pnn_dtype of pocketnn.h. */
public enum DType {
    F32(1), F16(2), S8(3), U8(4), S4(5), B1(6), S32(7), S64(8), BOOL(9);

    private final int code;

    DType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    static DType fromCode(int code) {
        for (DType type : values()) {
            if (type.code == code) {
                return type;
            }
        }
        throw new IllegalArgumentException("unknown pnn_dtype " + code);
    }
}
