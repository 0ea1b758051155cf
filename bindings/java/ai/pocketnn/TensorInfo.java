package ai.pocketnn;

import java.util.Arrays;

/** Name, element type and shape of a model input or output. */
public final class TensorInfo {
    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final long sizeBytes;

    TensorInfo(String name, int dtype, long[] shape, long sizeBytes) {
        this.name = name;
        this.dtype = DType.fromCode(dtype);
        this.shape = shape;
        this.sizeBytes = sizeBytes;
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    /** Bytes of the tensor (the size a direct ByteBuffer for it needs). */
    public long sizeBytes() {
        return sizeBytes;
    }

    public int elementCount() {
        long count = 1;
        for (long dim : shape) {
            count *= dim;
        }
        return Math.toIntExact(count);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
